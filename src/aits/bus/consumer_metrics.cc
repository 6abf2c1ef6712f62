#include "aits/bus/consumer_metrics.h"

#include <utility>
#include <vector>

namespace aits::bus {
namespace {

class MeteredConsumer final : public Consumer {
 public:
  MeteredConsumer(std::unique_ptr<Consumer> inner, Gauge* pending, Counter* redeliveries)
      : inner_(std::move(inner)), pending_(pending), redeliveries_(redeliveries) {}

  Result<std::vector<Delivery>> Fetch(int max, Duration timeout) override {
    Result<std::vector<Delivery>> got = inner_->Fetch(max, timeout);
    if (!got.ok() || got->empty()) return got;
    // Counted in a plain local first: one atomic add per batch, not per message.
    uint64_t again = 0;
    for (const Delivery& delivery : *got) again += delivery.delivered > 1 ? 1 : 0;
    if (again > 0) redeliveries_->Increment(again);
    pending_->Set(static_cast<double>(got->back().pending));
    return got;
  }
  Status Ack(uint64_t sequence) override { return inner_->Ack(sequence); }
  Status Nak(uint64_t sequence) override { return inner_->Nak(sequence); }
  Status InProgress(uint64_t sequence) override { return inner_->InProgress(sequence); }

 private:
  std::unique_ptr<Consumer> inner_;
  Gauge* pending_;
  Counter* redeliveries_;
};

}  // namespace

std::string ConsumerLabel(const ConsumerConfig& config, std::string_view reader) {
  if (!config.durable.empty()) return config.durable;
  if (reader.empty()) return config.filter_subject;
  return std::string(reader) + ":" + config.filter_subject;
}

Result<std::unique_ptr<Consumer>> WithLagMetrics(std::unique_ptr<Consumer> consumer,
                                                 Registry* registry, const ConsumerConfig& config,
                                                 std::string_view reader) {
  if (registry == nullptr) return consumer;
  AITS_ASSIGN_OR_RETURN(
      Family<Gauge> * pending,
      registry->AddGauge("aits_bus_consumer_pending_messages",
                         "Messages in the stream still waiting for this consumer (its lag), as "
                         "of its last fetch that returned any",
                         {"stream", "consumer"}));
  AITS_ASSIGN_OR_RETURN(
      Family<Counter> * redeliveries,
      registry->AddCounter("aits_bus_redeliveries_total",
                           "Messages this consumer was handed more than once (refused, or not "
                           "acknowledged within its ack_wait)",
                           {"stream", "consumer"}));
  const std::string name = ConsumerLabel(config, reader);
  const Label labels[] = {{"stream", config.stream}, {"consumer", name}};
  AITS_ASSIGN_OR_RETURN(Gauge * lag, pending->With(labels));
  AITS_ASSIGN_OR_RETURN(Counter * again, redeliveries->With(labels));
  return std::unique_ptr<Consumer>(
      std::make_unique<MeteredConsumer>(std::move(consumer), lag, again));
}

Result<std::unique_ptr<Consumer>> ConsumeMetered(MessageBus& bus, const ConsumerConfig& config,
                                                 Registry* registry, std::string_view reader) {
  AITS_ASSIGN_OR_RETURN(std::unique_ptr<Consumer> consumer, bus.Consume(config));
  return WithLagMetrics(std::move(consumer), registry, config, reader);
}

}  // namespace aits::bus
