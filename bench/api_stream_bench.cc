// The API's WebSocket fan-out under load (docs/performance.md, "API"): `--clients` dashboard
// clients subscribed to quotes over real WebSockets on loopback, a publisher putting `--rate`
// messages a second into the StreamHub for `--seconds`, each client recording the delay from
// publish to receipt. The original design's figure: 500 clients at 1,000 updates/s each, p99
// delay at most 50 ms. Server, publisher and clients share the machine's cores: the bench
// prints the CPU time each side took while publishing, so that what the clients cost is seen.
// The clients' reads run on one thread (`--client-threads` for more): on two cores that one
// thread falls behind at 500 x 1,000, and the messages wait in its sockets, not in the server.
//
//   build/release/bench/aits_api_stream_bench --clients 500 --rate 1000 --seconds 10
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "aits/api/api_service.h"
#include "aits/api/session_routes.h"
#include "aits/api/stream_hub.h"
#include "aits/core/clock.h"
#include "aits/core/latency_histogram.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using namespace aits;
using namespace aits::api;

namespace {

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One dashboard client: connects, subscribes to quotes, and records each message's delay
// (the publisher's steady-clock time is the message's "t").
class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& io, LatencyHistogram* delays, std::mutex* mutex,
         std::atomic<uint64_t>* received)
      : ws_(asio::make_strand(io)), delays_(delays), mutex_(mutex), received_(received) {}

  void Start(const tcp::endpoint& at, std::string target) {
    target_ = std::move(target);
    beast::get_lowest_layer(ws_).async_connect(
        at, [self = shared_from_this()](beast::error_code ec) {
          if (ec) return self->Fail("connect", ec);
          self->ws_.async_handshake("localhost", self->target_, [self](beast::error_code ec2) {
            if (ec2) return self->Fail("handshake", ec2);
            self->Subscribe();
          });
        });
  }
  bool ready() const { return ready_.load(); }
  bool failed() const { return failed_.load(); }
  // Merges what it recorded into the shared histogram, on its strand (its reads may run on any
  // of the clients' threads).
  void Flush() {
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      std::lock_guard lock(*self->mutex_);
      self->delays_->Merge(self->local_);
      self->local_ = LatencyHistogram();
    });
  }

 private:
  void Subscribe() {
    subscribe_ = R"({"op":"subscribe","topics":["quotes"]})";
    ws_.async_write(asio::buffer(subscribe_),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) return self->Fail("subscribe", ec);
                      self->Read();
                    });
  }
  void Read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        if (ec != beast::websocket::error::closed) self->Fail("read", ec);
        return;
      }
      const auto data = self->buffer_.cdata();
      const std::string_view text(static_cast<const char*>(data.data()), data.size());
      // One or more messages, one per line; each stamped with its publish time ("t").
      const int64_t now = SteadyNanos();
      uint64_t messages = 0;
      for (size_t at = text.find("\"t\":"); at != std::string_view::npos;
           at = text.find("\"t\":", at + 4)) {
        self->local_.Record(now - std::strtoll(text.data() + at + 4, nullptr, 10));
        ++messages;
      }
      if (messages == 0) self->ready_.store(true);  // the subscription's acknowledgement
      self->received_->fetch_add(messages, std::memory_order_relaxed);
      self->buffer_.consume(self->buffer_.size());
      self->Read();
    });
  }
  void Fail(const char* what, beast::error_code ec) {
    if (!failed_.exchange(true))
      std::fprintf(stderr, "client: %s: %s\n", what, ec.message().c_str());
  }

  beast::websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::string target_;
  std::string subscribe_;
  LatencyHistogram local_;
  LatencyHistogram* delays_;
  std::mutex* mutex_;
  std::atomic<uint64_t>* received_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> failed_{false};
};

double CpuSeconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The CPU time the clients' threads have taken.
double ClientCpuSeconds(std::vector<std::thread>& threads) {
  double sum = 0;
  for (std::thread& t : threads) {
    clockid_t clock{};
    if (pthread_getcpuclockid(t.native_handle(), &clock) == 0) sum += CpuSeconds(clock);
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("WebSocket fan-out: clients x rate messages a second, delay to each client");
  int clients = 500;
  int rate = 1000;
  double seconds = 10;
  int server_threads = 2;
  app.add_option("--clients", clients)->capture_default_str();
  app.add_option("--rate", rate, "messages a second to every client")->capture_default_str();
  app.add_option("--seconds", seconds)->capture_default_str();
  app.add_option("--server-threads", server_threads)->capture_default_str();
  int client_threads = 1;
  app.add_option("--client-threads", client_threads, "threads the clients' reads run on")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const std::string dir = "/tmp/aits_api_stream_bench_" + std::to_string(::getpid());
  std::string command = "mkdir -p " + dir;
  if (std::system(command.c_str()) != 0) return 1;
  const WallClock clock;
  auto store = AuthStore::Open(dir + "/auth.db",
                               SecretBox::FromText(SecretBox::NewKeyText(), "bench").value(),
                               PasswordCost::kMinimal)
                   .value();
  (void)store->EnsureSigningKey(clock.Now());
  auto [key, secret] = store->CreateApiKey("bench", Role::kViewer, clock.Now()).value();
  ApiOptions options;
  options.rate_per_minute = 1'000'000'000;
  ApiService service(*store, store->LoadKeyRing().value(), clock, options);
  StreamHub hub(1000);
  HttpServerOptions http;
  http.threads = server_threads;
  http.max_connections_per_client = clients + 10;
  http.ws_queue_limit = 4096;
  auto server = HttpServer::Start(
                    http, [&service](const HttpRequest& r) { return service.Handle(r); },
                    MakeStreamHandler(service, hub))
                    .value();

  asio::io_context io;
  LatencyHistogram delays;
  std::mutex mutex;
  std::atomic<uint64_t> received{0};
  std::vector<std::shared_ptr<Client>> all;
  const tcp::endpoint at(asio::ip::make_address("127.0.0.1"), server->port());
  for (int i = 0; i < clients; ++i) {
    all.push_back(std::make_shared<Client>(io, &delays, &mutex, &received));
    all.back()->Start(at, "/api/v1/stream?api_key=" + secret);
  }
  auto guard = asio::make_work_guard(io);
  std::vector<std::thread> client_thread_pool;
  for (int i = 0; i < client_threads; ++i) client_thread_pool.emplace_back([&io] { io.run(); });
  const auto wait_until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int ready = 0;
  while (std::chrono::steady_clock::now() < wait_until) {
    ready = 0;
    for (const auto& c : all) ready += c->ready() ? 1 : 0;
    if (ready == clients) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::printf("%d of %d clients subscribed (server: %d I/O threads; clients: %d threads)\n", ready,
              clients, server_threads, client_threads);

  // The publisher: `rate` messages a second, evenly spaced, each stamped with its time. It
  // sleeps between them rather than spinning, so that its CPU time is its publishing.
  const double process_cpu_start = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  const double client_cpu_start = ClientCpuSeconds(client_thread_pool);
  const double publisher_cpu_start = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
  const int64_t interval = 1'000'000'000LL / rate;
  const int64_t start = SteadyNanos();
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  uint64_t seq = 0;
  int64_t next = start;
  while (next < end) {
    const int64_t wait = next - SteadyNanos();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
    hub.Publish(++seq, kTopicQuotes, "EURUSD",
                {{"bid", 1.1}, {"ask", 1.1001}, {"t", SteadyNanos()}});
    next += interval;
  }
  const double took = static_cast<double>(SteadyNanos() - start) / 1e9;
  const double publisher_cpu = CpuSeconds(CLOCK_THREAD_CPUTIME_ID) - publisher_cpu_start;
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the last messages in flight
  const double client_cpu = ClientCpuSeconds(client_thread_pool) - client_cpu_start;
  const double process_cpu = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - process_cpu_start;
  const HttpServerStats stats = server->stats();
  for (const auto& c : all) c->Flush();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  guard.reset();
  io.stop();
  for (std::thread& t : client_thread_pool) t.join();
  server->Stop();
  int failed = 0;
  for (const auto& c : all) failed += c->failed() ? 1 : 0;

  const uint64_t expected = seq * static_cast<uint64_t>(ready);
  std::printf(
      "published %llu messages in %.2f s (%.0f/s); %llu deliveries expected, %llu "
      "received (%.1f %%), %.0f deliveries/s\n",
      static_cast<unsigned long long>(seq), took, static_cast<double>(seq) / took,
      static_cast<unsigned long long>(expected), static_cast<unsigned long long>(received.load()),
      expected ? 100.0 * static_cast<double>(received.load()) / static_cast<double>(expected) : 0.0,
      static_cast<double>(received.load()) / took);
  const auto ms = [](int64_t ns) { return static_cast<double>(ns) / 1e6; };
  std::printf("delay publish -> client: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              ms(delays.Quantile(0.5)), ms(delays.Quantile(0.9)), ms(delays.Quantile(0.99)),
              ms(delays.max()));
  std::printf("frames %llu for %llu messages; clients closed as too slow: %llu; failed: %d\n",
              static_cast<unsigned long long>(stats.websocket_frames),
              static_cast<unsigned long long>(stats.websocket_messages),
              static_cast<unsigned long long>(stats.websocket_too_slow), failed);
  // A quote that waited for a lagging client while a newer one came was superseded (docs/api.md,
  // "Streams"): every delivery expected was received or superseded, or something was lost.
  const uint64_t accounted = received.load() + stats.websocket_superseded;
  std::printf(
      "superseded (conflated) %llu (%.1f %% of deliveries); received + superseded = %llu%s\n",
      static_cast<unsigned long long>(stats.websocket_superseded),
      expected
          ? 100.0 * static_cast<double>(stats.websocket_superseded) / static_cast<double>(expected)
          : 0.0,
      static_cast<unsigned long long>(accounted),
      accounted == expected ? ", as expected" : ": MESSAGES LOST");
  // Over the publishing and the 2 s after it; the server's is what is left of the process's.
  const double server_cpu = process_cpu - client_cpu - publisher_cpu;
  const double wall = took + 2;
  std::printf(
      "CPU over %.1f s (cores busy): server %.2f s (%.2f), clients %.2f s (%.2f), publisher "
      "%.2f s (%.2f)\n",
      wall, server_cpu, server_cpu / wall, client_cpu, client_cpu / wall, publisher_cpu,
      publisher_cpu / wall);
  command = "rm -rf " + dir;
  return std::system(command.c_str()) == 0 ? 0 : 1;
}
