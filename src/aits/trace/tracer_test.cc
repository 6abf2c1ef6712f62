#include "aits/trace/tracer.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace aits::trace {
namespace {

std::filesystem::path TempFile(const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / ("trace_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / name;
  std::filesystem::remove(path);
  return path;
}

std::vector<nlohmann::json> ReadLines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Every root sampled, written to `file` when given.
TracerOptions SampleAll(std::string service, const std::filesystem::path& file = {}) {
  TracerOptions options;
  options.service_name = std::move(service);
  options.sample_ratio = 1;
  options.file = file.string();
  return options;
}

std::unique_ptr<Tracer> OpenTracer(TracerOptions options) {
  Result<std::unique_ptr<Tracer>> tracer = Tracer::Open(std::move(options));
  EXPECT_TRUE(tracer.ok()) << tracer.status().ToString();
  return tracer.ok() ? std::move(tracer).value() : nullptr;
}

TEST(TracerTest, SpansAreWrittenAsOtlpJsonWithTheirParents) {
  const std::filesystem::path file = TempFile("shape.jsonl");
  std::unique_ptr<Tracer> tracer = OpenTracer(SampleAll("features", file));
  ASSERT_NE(tracer, nullptr);
  Span root = tracer->StartRoot("tick.ingest", SpanKind::kProducer);
  root.SetAttribute("symbol", "EURUSD");
  root.SetAttribute("ticks", int64_t{64});
  Span child = tracer->Start("features", SpanKind::kConsumer, root.traceparent());
  child.SetError("no row");
  tracer->End(child);
  tracer->End(root);
  tracer->Flush();

  const std::vector<nlohmann::json> lines = ReadLines(file);
  ASSERT_EQ(lines.size(), 1u);
  const nlohmann::json& resource = lines[0].at("resourceSpans").at(0);
  const nlohmann::json& attribute = resource.at("resource").at("attributes").at(0);
  EXPECT_EQ(attribute.at("key"), "service.name");
  EXPECT_EQ(attribute.at("value").at("stringValue"), "features");
  const nlohmann::json& scope = resource.at("scopeSpans").at(0);
  EXPECT_EQ(scope.at("scope").at("name"), "aits");
  const nlohmann::json& spans = scope.at("spans");
  ASSERT_EQ(spans.size(), 2u);
  const nlohmann::json& c = spans[0];
  const nlohmann::json& r = spans[1];
  EXPECT_EQ(c.at("name"), "features");
  EXPECT_EQ(r.at("name"), "tick.ingest");
  EXPECT_EQ(r.at("traceId").get<std::string>().size(), 32u);
  EXPECT_EQ(r.at("spanId").get<std::string>().size(), 16u);
  EXPECT_EQ(c.at("traceId"), r.at("traceId"));
  EXPECT_EQ(c.at("parentSpanId"), r.at("spanId"));
  EXPECT_FALSE(r.contains("parentSpanId"));
  EXPECT_EQ(r.at("kind"), 4);
  EXPECT_EQ(c.at("kind"), 5);
  // Times are strings of Unix nanoseconds, the end not before the start.
  ASSERT_TRUE(r.at("startTimeUnixNano").is_string());
  const int64_t start = std::stoll(r.at("startTimeUnixNano").get<std::string>());
  const int64_t end = std::stoll(r.at("endTimeUnixNano").get<std::string>());
  EXPECT_GT(start, int64_t{1'600'000'000} * 1'000'000'000);
  EXPECT_GE(end, start);
  EXPECT_EQ(r.at("attributes").at(0).at("key"), "symbol");
  EXPECT_EQ(r.at("attributes").at(0).at("value").at("stringValue"), "EURUSD");
  EXPECT_EQ(r.at("attributes").at(1).at("value").at("intValue"), "64");
  EXPECT_EQ(r.at("status").at("code"), 0);
  EXPECT_EQ(c.at("status").at("code"), 2);
  EXPECT_EQ(c.at("status").at("message"), "no row");
}

TEST(TracerTest, AMalformedParentStartsANewRootAndIsCounted) {
  std::unique_ptr<Tracer> tracer = OpenTracer(SampleAll("decision"));
  ASSERT_NE(tracer, nullptr);
  Span span = tracer->Start("decision", SpanKind::kConsumer, "00-not-a-traceparent");
  EXPECT_TRUE(span.is_root());
  EXPECT_TRUE(span.context.valid());
  EXPECT_EQ(tracer->counters().malformed_parents, 1u);
  EXPECT_EQ(tracer->counters().roots, 1u);
  EXPECT_NE(tracer->last_malformed().find("20 characters, not 55"), std::string::npos)
      << tracer->last_malformed();
  // All-zero ids parse as text but are the W3C's invalid value: refused the same way.
  span = tracer->Start("decision", SpanKind::kConsumer,
                       "00-00000000000000000000000000000000-00f067aa0ba902b7-01");
  EXPECT_TRUE(span.is_root());
  EXPECT_EQ(tracer->counters().malformed_parents, 2u);
}

TEST(TracerTest, AChildFollowsItsParentsSamplingDecision) {
  TracerOptions options = SampleAll("prediction");  // would sample any root of its own
  std::unique_ptr<Tracer> tracer = OpenTracer(options);
  ASSERT_NE(tracer, nullptr);
  const std::string unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
  Span span = tracer->Start("prediction", SpanKind::kConsumer, unsampled);
  EXPECT_FALSE(span.recording());
  EXPECT_FALSE(span.is_root());
  EXPECT_EQ(HexTraceId(span.context.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(span.traceparent().substr(53), "00");
  span.SetAttribute("symbol", "EURUSD");  // not recording: kept nowhere
  EXPECT_TRUE(span.attributes.empty());
  EXPECT_TRUE(span.name.empty());

  options.sample_ratio = 0;  // would sample no root of its own
  tracer = OpenTracer(options);
  ASSERT_NE(tracer, nullptr);
  span = tracer->Start("prediction", SpanKind::kConsumer,
                       "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_TRUE(span.recording());
  EXPECT_EQ(span.name, "prediction");
}

TEST(TracerTest, TheRatioSamplesRootsByTraceId) {
  for (const double ratio : {0.0, 0.25, 1.0}) {
    TracerOptions options;
    options.service_name = "ingestion";
    options.sample_ratio = ratio;
    std::unique_ptr<Tracer> tracer = OpenTracer(options);
    ASSERT_NE(tracer, nullptr);
    constexpr int kRoots = 20'000;
    std::set<std::string> trace_ids;
    for (int idx = 0; idx < kRoots; ++idx) {
      Span span = tracer->StartRoot("tick.ingest", SpanKind::kProducer);
      trace_ids.insert(HexTraceId(span.context.trace_id));
      tracer->End(span);
    }
    const TracerCounters counters = tracer->counters();
    EXPECT_EQ(counters.roots, uint64_t{kRoots});
    EXPECT_EQ(trace_ids.size(), size_t{kRoots});  // ids do not repeat
    if (ratio == 0.0) {
      EXPECT_EQ(counters.sampled_roots, 0u);
    }
    if (ratio == 1.0) {
      EXPECT_EQ(counters.sampled_roots, uint64_t{kRoots});
    }
    if (ratio == 0.25) {
      // Binomial(20000, 0.25): sd about 61; 6 sd either side.
      EXPECT_GT(counters.sampled_roots, 4'630u);
      EXPECT_LT(counters.sampled_roots, 5'370u);
    }
  }
}

TEST(TracerTest, BadOptionsAreRefused) {
  TracerOptions options;
  options.sample_ratio = 1.5;
  EXPECT_EQ(Tracer::Open(options).status().code(), StatusCode::kInvalidArgument);
  options.sample_ratio = -0.1;
  EXPECT_EQ(Tracer::Open(options).status().code(), StatusCode::kInvalidArgument);
  options.sample_ratio = 0.5;
  options.otlp_endpoint = "127.0.0.1:4318/v1/traces";
  Result<std::unique_ptr<Tracer>> tracer = Tracer::Open(options);
  EXPECT_EQ(tracer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(tracer.status().message().find("not an http://"), std::string::npos);
  options.otlp_endpoint.clear();
  options.file = "/nonexistent-dir/trace.jsonl";
  tracer = Tracer::Open(options);
  EXPECT_EQ(tracer.status().code(), StatusCode::kIoError);
  EXPECT_NE(tracer.status().message().find("/nonexistent-dir/trace.jsonl"), std::string::npos);
}

TEST(TracerTest, AFullQueueDropsAndCountsRatherThanWaits) {
  const std::filesystem::path file = TempFile("full.jsonl");
  TracerOptions options = SampleAll("owner", file);
  options.max_queued = 4;
  options.flush_interval = Duration::Seconds(3600);  // nothing leaves the queue until Flush
  std::unique_ptr<Tracer> tracer = OpenTracer(options);
  ASSERT_NE(tracer, nullptr);
  for (int idx = 0; idx < 10; ++idx) {
    Span span = tracer->StartRoot("order", SpanKind::kInternal);
    tracer->End(span);
  }
  tracer->Flush();
  const TracerCounters counters = tracer->counters();
  EXPECT_EQ(counters.dropped, 6u);
  EXPECT_EQ(counters.exported, 4u);
  const std::vector<nlohmann::json> lines = ReadLines(file);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["resourceSpans"][0]["scopeSpans"][0]["spans"].size(), 4u);
}

// A stand-in for an OTLP/HTTP collector on loopback: answers every request with `status` and
// keeps what it was sent (request line and headers, body). Plain sockets: the test needs
// nothing the tracer does not.
class Collector {
 public:
  explicit Collector(int status) : status_(status) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), size) != 0 ||
        ::listen(listener_, 4) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      ADD_FAILURE() << "no listening socket on loopback";
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~Collector() {
    ::shutdown(listener_, SHUT_RDWR);  // accept returns: the thread ends
    if (thread_.joinable()) thread_.join();
    ::close(listener_);
  }
  std::string endpoint() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces";
  }
  std::vector<std::pair<std::string, std::string>> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void Serve() {
    for (;;) {
      const int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      std::string got;
      char buffer[4096];
      size_t header_end = std::string::npos;
      size_t length = 0;
      while (header_end == std::string::npos || got.size() < header_end + 4 + length) {
        const ssize_t n = ::read(connection, buffer, sizeof(buffer));
        if (n <= 0) break;
        got.append(buffer, static_cast<size_t>(n));
        if (header_end == std::string::npos &&
            (header_end = got.find("\r\n\r\n")) != std::string::npos) {
          const size_t at = got.find("Content-Length: ");
          if (at != std::string::npos && at < header_end) length = std::stoul(got.substr(at + 16));
        }
      }
      // Kept before the answer goes: the tracer's Flush returns once it has the answer.
      if (header_end != std::string::npos) {
        std::lock_guard<std::mutex> lock(mutex_);
        requests_.emplace_back(got.substr(0, header_end), got.substr(header_end + 4));
      }
      const std::string answer = "HTTP/1.1 " + std::to_string(status_) +
                                 " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
      (void)!::write(connection, answer.data(), answer.size());
      ::close(connection);
    }
  }

  int status_;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> requests_;
};

TEST(TracerTest, SpansArePostedToTheOtlpEndpointAsJson) {
  Collector collector(200);
  TracerOptions options = SampleAll("prediction");
  options.otlp_endpoint = collector.endpoint();
  std::unique_ptr<Tracer> tracer = OpenTracer(options);
  ASSERT_NE(tracer, nullptr);
  Span root = tracer->StartRoot("md.publish", SpanKind::kProducer);
  Span child = tracer->StartChild("prediction", SpanKind::kConsumer, root.context);
  tracer->End(child);
  tracer->End(root);
  tracer->Flush();
  EXPECT_EQ(tracer->counters().exported, 2u);
  EXPECT_EQ(tracer->counters().export_errors, 0u);
  const auto requests = collector.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& [head, body] = requests[0];
  EXPECT_EQ(head.substr(0, head.find("\r\n")), "POST /v1/traces HTTP/1.1");
  EXPECT_NE(head.find("Content-Type: application/json"), std::string::npos) << head;
  const nlohmann::json request = nlohmann::json::parse(body);
  const nlohmann::json& resource = request.at("resourceSpans").at(0);
  EXPECT_EQ(resource.at("resource").at("attributes").at(0).at("value").at("stringValue"),
            "prediction");
  const nlohmann::json& spans = resource.at("scopeSpans").at(0).at("spans");
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].at("parentSpanId"), spans[1].at("spanId"));
}

TEST(TracerTest, ACollectorThatRefusesCountsAnErrorAndTheFileStillGetsTheSpans) {
  Collector collector(503);
  const std::filesystem::path file = TempFile("refused.jsonl");
  TracerOptions options = SampleAll("owner", file);
  options.otlp_endpoint = collector.endpoint();
  std::unique_ptr<Tracer> tracer = OpenTracer(options);
  ASSERT_NE(tracer, nullptr);
  Span span = tracer->StartRoot("order", SpanKind::kClient);
  tracer->End(span);
  tracer->Flush();
  EXPECT_EQ(collector.requests().size(), 1u);
  EXPECT_EQ(tracer->counters().export_errors, 1u);
  EXPECT_EQ(tracer->counters().exported, 1u);  // the file took them
  EXPECT_EQ(tracer->counters().dropped, 0u);
  EXPECT_EQ(ReadLines(file).size(), 1u);
}

TEST(TracerTest, AnUnreachableEndpointCountsErrorsAndDropsTheBatch) {
  TracerOptions options = SampleAll("owner");
  // Port 9 on loopback (discard): nothing listens there on a test machine.
  options.otlp_endpoint = "http://127.0.0.1:9/v1/traces";
  std::unique_ptr<Tracer> tracer = OpenTracer(options);
  ASSERT_NE(tracer, nullptr);
  Span span = tracer->StartRoot("order", SpanKind::kInternal);
  tracer->End(span);
  tracer->Flush();
  EXPECT_EQ(tracer->counters().export_errors, 1u);
  EXPECT_EQ(tracer->counters().dropped, 1u);
  EXPECT_EQ(tracer->counters().exported, 0u);
}

TEST(TracerTest, ItsCountersAreServedFromTheRegistryItWasGiven) {
  const std::filesystem::path file = TempFile("metrics.jsonl");
  TracerOptions options = SampleAll("features", file);
  options.sample_ratio = 0;
  std::unique_ptr<Tracer> tracer = OpenTracer(options);
  ASSERT_NE(tracer, nullptr);
  Span unsampled = tracer->StartRoot("md.publish", SpanKind::kProducer);
  tracer->End(unsampled);
  Span malformed = tracer->Start("features", SpanKind::kConsumer, "00-bad");
  tracer->End(malformed);
  Registry registry;
  ASSERT_TRUE(tracer->ExportMetrics(&registry).ok());
  // What came before the registry is in it; what comes after is added.
  Span sampled = tracer->Start("features", SpanKind::kConsumer,
                               "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  tracer->End(sampled);
  tracer->Flush();
  const std::string text = registry.RenderText();
  for (const char* line :
       {"aits_trace_roots_total{sampled=\"false\"} 2", "aits_trace_roots_total{sampled=\"true\"} 0",
        "aits_trace_malformed_traceparents_total 1", "aits_trace_spans_exported_total 1",
        "aits_trace_spans_dropped_total 0", "aits_trace_export_errors_total 0"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " not in:\n" << text;
  }
  // Detached: the registry may go while the tracer goes on.
  ASSERT_TRUE(tracer->ExportMetrics(nullptr).ok());
  Span later = tracer->StartRoot("md.publish", SpanKind::kProducer);
  tracer->End(later);
  EXPECT_NE(registry.RenderText().find("aits_trace_roots_total{sampled=\"false\"} 2"),
            std::string::npos);
  EXPECT_EQ(tracer->counters().roots, 3u);
}

TEST(TracerTest, ControlCharactersAndBadUtf8StayOneParsableLine) {
  Span span;
  span.context.flags = SpanContext::kSampled;
  span.name = "a\nname";
  span.SetAttribute("raw", std::string_view("\xff\xfe\n", 3));
  const std::string line = EncodeOtlpJson("role\n", std::span<const Span>(&span, 1));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"], "a\nname");
}

}  // namespace
}  // namespace aits::trace

namespace aits::trace {
namespace {

// The session watches its tick's span; a publisher that takes the current span as a parent
// marks it, one that only reads it does not, and watching anew clears the mark.
TEST(CurrentSpanTest, AWatchedSpanTakenAsAParentIsNoted) {
  SpanContext tick;
  tick.trace_id[0] = 1;
  tick.span_id[0] = 2;
  tick.flags = SpanContext::kSampled;
  SpanContext other = tick;
  other.span_id[0] = 3;
  SetCurrent(tick);
  WatchParentUse(tick);
  (void)Current();
  EXPECT_FALSE(WatchedWasParent());
  SetCurrent(other);  // a decider's own span: a child of it says nothing of the tick's
  (void)CurrentAsParent();
  EXPECT_FALSE(WatchedWasParent());
  SetCurrent(tick);
  EXPECT_EQ(CurrentAsParent().span_id, tick.span_id);
  EXPECT_TRUE(WatchedWasParent());
  SetCurrent(other);  // still noted after the current span changed
  EXPECT_TRUE(WatchedWasParent());
  WatchParentUse(tick);
  EXPECT_FALSE(WatchedWasParent());
  SetCurrent({});
  (void)CurrentAsParent();  // no current span: nothing noted
  EXPECT_FALSE(WatchedWasParent());
  WatchParentUse({});
}

}  // namespace
}  // namespace aits::trace
