// Prints Registry::RenderText() of a sample registry that uses every feature of
// src/aits/core/metrics.h (labels, escaping, all three types, +Inf, NaN, negative values), for
// tests/e2e/metrics_promtool_test.sh to check with Prometheus' own parser (`promtool check
// metrics`).
#include <cstdio>
#include <limits>

#include "aits/core/metrics.h"

namespace {

aits::Status Fill(aits::Registry& registry) {
  AITS_ASSIGN_OR_RETURN(auto* denied,
                        registry.AddCounter("aits_orders_denied_total",
                                            "Orders denied before the venue, by \"reason\".\n"
                                            "A second line with a backslash \\.",
                                            {"reason", "symbol"}));
  AITS_ASSIGN_OR_RETURN(auto* halted,
                        denied->With({{"reason", "risk_halted"}, {"symbol", "EURUSD"}}));
  halted->Increment(3);
  AITS_ASSIGN_OR_RETURN(
      auto* odd, denied->With({{"reason", "venue said \"no\"\nC:\\x"}, {"symbol", "EURUSD"}}));
  odd->Increment();

  AITS_ASSIGN_OR_RETURN(auto* equity,
                        registry.AddGauge("aits_equity", "Account equity.", {"currency"}));
  AITS_ASSIGN_OR_RETURN(auto* usd, equity->With({{"currency", "USD"}}));
  usd->Set(-1234.5);
  AITS_ASSIGN_OR_RETURN(auto* nan, equity->With({{"currency", "XXX"}}));
  nan->Set(std::numeric_limits<double>::quiet_NaN());
  AITS_ASSIGN_OR_RETURN(auto* inf, equity->With({{"currency", "YYY"}}));
  inf->Set(std::numeric_limits<double>::infinity());

  AITS_ASSIGN_OR_RETURN(
      auto* latency,
      registry.AddHistogram("aits_tick_to_decision_seconds", "Time from a tick to the decision.",
                            {0.000001, 0.001, 0.01, 0.1}, {"symbol"}));
  AITS_ASSIGN_OR_RETURN(auto* eurusd, latency->With({{"symbol", "EURUSD"}}));
  for (const double seconds : {0.0000005, 0.001, 0.005, 0.1, 3.0}) eurusd->Observe(seconds);
  AITS_ASSIGN_OR_RETURN(auto* empty,
                        registry.AddHistogram("aits_empty_seconds", "No buckets.", {}));
  (*empty->With({}))->Observe(1.5);
  return aits::Status::Ok();
}

}  // namespace

int main() {
  aits::Registry registry;
  if (const aits::Status status = Fill(registry); !status.ok()) {
    std::fprintf(stderr, "metrics_exposition: %s\n", status.ToString().c_str());
    return 1;
  }
  std::fputs(registry.RenderText().c_str(), stdout);
  return 0;
}
