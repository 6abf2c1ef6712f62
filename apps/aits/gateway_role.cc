#include "gateway_role.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "aits/gateway/gateway.h"
#include "aits/log/log.h"
#include "aits/node/inbox.h"
#include "aits/node/node_event.h"
#include "aits/services/bus_venue.h"
#include "aits/services/market_stream.h"
#include "cli.h"

namespace aits::app {
namespace {

// The terminal's ticks to MARKET, one publisher per instrument, indexed by the instrument's id.
class TickPublishers {
 public:
  // Continues each subject after the last tick it holds, and tells the gateway to ask the
  // terminal for the ticks after that one's server time (Gateway::ResumeAfter): a restarted role
  // neither repeats nor skips a tick the terminal still has.
  Status Open(bus::MessageBus& bus, const GatewayRoleOptions& options, gateway::Gateway& gw,
              const std::function<void(const std::string&)>& notice) {
    services::MarketPublisherOptions publish;
    publish.feed = options.market;
    publish.tracer = options.tracer;
    for (const Instrument& instrument : options.gateway.instruments) {
      AITS_ASSIGN_OR_RETURN(std::unique_ptr<services::MarketPublisher> publisher,
                            services::MarketPublisher::Create(bus, instrument, publish));
      AITS_ASSIGN_OR_RETURN(const std::optional<services::MarketPublisher::HeldTick> held,
                            publisher->ContinueLive());
      if (held) {
        if (held->source_msc > 0) {
          resumed_msc_ =
              resumed_msc_ == 0 ? held->source_msc : std::min(resumed_msc_, held->source_msc);
        }
        gw.ResumeAfter(held->tick, held->source_msc);
        const std::string subject = "md." + options.market + "." + instrument.symbol;
        notice(subject + " holds " + std::to_string(held->sequence) +
               " ticks; continuing after server time " + std::to_string(held->source_msc) + " ms");
        AITS_LOG_INFO("gateway", "continuing the market data after the last tick held",
                      {{"subject", subject},
                       {"held", std::to_string(held->sequence)},
                       {"source_msc", std::to_string(held->source_msc)}});
      }
      const size_t id = instrument.id.value;
      if (by_id_.size() <= id) by_id_.resize(id + 1);
      by_id_[id] = std::move(publisher);
    }
    return Status::Ok();
  }
  // On the bridge's publishing thread: each tick is published as it comes (a live feed's ticks
  // are never held back for a fuller batch).
  Status Publish(const node::MarketData& data) {
    const size_t id = data.tick.instrument.value;
    if (id >= by_id_.size() || by_id_[id] == nullptr) {
      return Internal("the gateway pushed a tick of instrument id " + std::to_string(id) +
                      ", which it was not configured with");
    }
    AITS_RETURN_IF_ERROR(by_id_[id]->Add(data.tick, data.source_msc));
    return by_id_[id]->Publish();
  }
  Status Finish() {
    for (auto& publisher : by_id_) {
      if (publisher != nullptr) AITS_RETURN_IF_ERROR(publisher->Publish());
    }
    return Status::Ok();
  }
  // The earliest server time among the last ticks the subjects held at Open (0: none).
  int64_t resumed_msc() const { return resumed_msc_; }
  uint64_t ticks() const {
    uint64_t total = 0;
    for (const auto& publisher : by_id_) {
      if (publisher != nullptr) total += publisher->stats().ticks;
    }
    return total;
  }

 private:
  std::vector<std::unique_ptr<services::MarketPublisher>> by_id_;
  int64_t resumed_msc_ = 0;
};

// The orders the previous gateway role may have left at the terminal (sent, no report finished
// them: it died first) are asked about before anything else, as a restarted aits live asks
// about its log's (Gateway::Recover): their fate is then this gateway's to report, and the
// terminal's deal for one of them is not taken for an order of the terminal's own. Their
// reports go into `inbox` ahead of everything (the bridge publishes them first), and their
// submits count as applied if they come again. A submit the old bridge had taken but not yet
// sent when it died is reported rejected ("never received") rather than sent late. Returns the
// submits' ids.
Result<std::vector<std::string>> RecoverSentOrders(
    bus::MessageBus& bus, const GatewayRoleOptions& options, gateway::Gateway& gw,
    int64_t resumed_msc, node::Inbox<node::NodeEvent>& inbox,
    const std::function<void(const std::string&)>& notice) {
  AITS_ASSIGN_OR_RETURN(services::SentOrders sent,
                        services::SentOrdersOfLastBridge(bus, options.market));
  if (sent.unfinished.empty()) return std::vector<std::string>{};
  notice("asking the terminal about " + std::to_string(sent.unfinished.size()) +
         " order(s) the last gateway role sent that no report finished");
  AITS_LOG_INFO("gateway", "recovering the orders the last gateway role left",
                {{"orders", std::to_string(sent.unfinished.size())},
                 {"from_msc", std::to_string(resumed_msc)}});
  Result<std::vector<ExecutionReport>> recovered =
      gw.Recover(sent.unfinished, resumed_msc, sent.exec_ids);
  if (!recovered.ok()) {
    return recovered.status().WithContext(
        "asking the terminal about the orders the last gateway role sent");
  }
  node::ProducerLink link(&inbox, 1);
  const std::atomic<bool> never{false};
  for (ExecutionReport& report : *recovered) {
    (void)link.Send(
        node::ExecutionReportEvent{1, std::make_unique<ExecutionReport>(std::move(report)), 0},
        never);
  }
  notice(std::to_string(recovered->size()) + " report(s) of them from the terminal");
  return std::move(sent.command_ids);
}

}  // namespace

int RunGatewayRole(bus::MessageBus& bus, const GatewayRoleOptions& options) {
  const auto notice = [&options](const std::string& text) {
    if (!options.quiet) {
      std::fprintf(stderr, "aits serve: gateway: %s\n", text.c_str());
    }
  };
  const gateway::GatewayConfig& config = options.gateway;
  Result<std::unique_ptr<gateway::Gateway>> created = gateway::Gateway::Create(config);
  if (!created.ok()) return Fail(created.status());
  std::unique_ptr<gateway::Gateway> gw = std::move(created).value();

  TickPublishers ticks;
  if (Status opened = ticks.Open(bus, options, *gw, notice); !opened.ok()) return Fail(opened);
  if (Status listening = gw->Listen(); !listening.ok()) return Fail(listening);
  notice("listening on " + config.host + ":" + std::to_string(gw->port()) +
         " for the AitsBridge EA; the account's commands on exec." + options.market +
         ".commands, its ticks to md." + options.market + ".<SYMBOL>");
  if (options.ready) options.ready(Unavailable("waiting for the EA"));

  // The gateway pushes ticks, reports and its link's state here; the bridge is its only reader.
  node::Inbox<node::NodeEvent> inbox(1 << 14);
  std::unique_ptr<execution::ExecutionClient> venue = gw->MakeExecutionClient();
  Result<std::vector<std::string>> recovered =
      RecoverSentOrders(bus, options, *gw, ticks.resumed_msc(), inbox, notice);
  if (!recovered.ok()) return Fail(recovered.status());
  if (Status started = gw->Start(node::ProducerLink(&inbox, 0)); !started.ok()) {
    return Fail(started);
  }
  services::VenueBridgeOptions bridge;
  bridge.applied = std::move(recovered).value();
  bridge.market = options.market;
  bridge.stop = StopSignals::flag();
  bridge.push = options.push;
  bridge.metrics = options.metrics;
  bridge.tracer = options.tracer;
  bridge.on_market_data = [&ticks](const node::MarketData& data) { return ticks.Publish(data); };
  gateway::Gateway* raw = gw.get();
  // The owner opens its session with the terminal's currency, leverage and margin mode.
  bridge.terms = [raw]() -> std::optional<VenueTerms> {
    const std::optional<mt5::Hello> hello = raw->terminal();
    if (!hello) return std::nullopt;
    return VenueTerms{hello->currency, static_cast<double>(hello->leverage),
                      hello->margin_mode == static_cast<uint32_t>(mt5::MarginMode::kRetailHedging)};
  };
  bridge.on_status = [&options, &notice, raw](const node::ProducerStatus& status) {
    if (status.state == node::ProducerState::kConnected) {
      std::string who = "an EA";
      if (const std::optional<mt5::Hello> hello = raw->terminal()) {
        who = "the terminal of login " + std::to_string(hello->login) + " on " + hello->server;
      }
      notice(who + " connected");
      AITS_LOG_INFO("gateway", "EA connected");
      if (options.ready) options.ready(Status::Ok());
      return;
    }
    const std::string why =
        status.error.ok() ? std::string(ToString(status.state)) : status.error.ToString();
    notice("the EA's link: " + why);
    AITS_LOG_WARN("gateway", "the EA's link is down: " + why);
    if (options.ready) options.ready(Unavailable("the EA's link: " + why));
  };
  const Result<services::VenueBridgeStats> ran =
      services::RunVenueBridge(bus, *venue, inbox, bridge);
  const Status finished = ticks.Finish();
  gw->Stop();
  if (options.ready) options.ready(Unavailable("finished"));
  if (!ran.ok()) return Fail(ran.status().WithContext("gateway role"));
  if (!finished.ok()) return Fail(finished.WithContext("gateway role: the last ticks"));

  using gateway::Counter;
  const Counter shown[] = {Counter::kTicks,         Counter::kLinksLost,
                           Counter::kOrdersSent,    Counter::kRequotes,
                           Counter::kResolutions,   Counter::kResends,
                           Counter::kRefusedTicks,  Counter::kRecoveredOrders,
                           Counter::kCaughtUpDeals, Counter::kSnapshotCovered};
  nlohmann::ordered_json counters;
  for (Counter counter : shown) counters[std::string(ToString(counter))] = gw->count(counter);
  const nlohmann::ordered_json summary = {{"role", "gateway"},
                                          {"market", options.market},
                                          {"stopped", ran->stopped},
                                          {"ticks_published", ticks.ticks()},
                                          {"commands", ran->commands},
                                          {"applied", ran->applied},
                                          {"duplicates", ran->duplicates},
                                          {"refused", ran->refused},
                                          {"answers", ran->answers},
                                          {"expired", ran->expired},
                                          {"reports", ran->reports},
                                          {"dead_lettered", ran->dead_lettered},
                                          {"gateway", counters}};
  if (options.json) {
    std::printf("%s\n", summary.dump(2).c_str());
    return 0;
  }
  std::printf(
      "gateway: %llu ticks published; %llu commands (%llu applied, %llu already applied, %llu "
      "refused), %llu requests answered, %llu expired, %llu reports published, %llu "
      "dead-lettered\n",
      static_cast<unsigned long long>(ticks.ticks()),
      static_cast<unsigned long long>(ran->commands), static_cast<unsigned long long>(ran->applied),
      static_cast<unsigned long long>(ran->duplicates),
      static_cast<unsigned long long>(ran->refused), static_cast<unsigned long long>(ran->answers),
      static_cast<unsigned long long>(ran->expired), static_cast<unsigned long long>(ran->reports),
      static_cast<unsigned long long>(ran->dead_lettered));
  if (!options.quiet) {
    std::string line = "  terminal link:";
    for (Counter counter : shown) {
      line += " " + std::string(ToString(counter)) + " " + std::to_string(gw->count(counter));
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace aits::app
