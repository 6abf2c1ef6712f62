// A stream backed up from one nats-server and restored into a fresh one holds the same messages
// under the same sequences, de-duplicates as before, and its durable consumer resumes where it
// was; a backup that cannot be whole is never taken for one. Real servers (aits::test_servers).
#include "aits/bus/stream_backup.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "aits/bus/message_bus.h"
#include "aits/bus/nats_bus.h"
#include "aits/testing/servers.h"

namespace aits::bus {
namespace {

using test_servers::NatsServer;
using test_servers::TempDir;

struct Server {
  std::unique_ptr<NatsServer> process;
  NatsOptions options;
  std::unique_ptr<MessageBus> bus;
};

Server MustStart() {
  Server out;
  Result<std::unique_ptr<NatsServer>> server = NatsServer::Start();
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  if (!server.ok()) return out;
  out.process = std::move(server).value();
  out.options.servers = {out.process->url()};
  Result<std::unique_ptr<MessageBus>> bus = ConnectNats(out.options);
  EXPECT_TRUE(bus.ok()) << bus.status().ToString();
  if (bus.ok()) out.bus = std::move(bus).value();
  return out;
}

// Every message of the stream from its first, as the server stores it.
std::vector<Delivery> ReadAll(MessageBus& bus, const std::string& stream) {
  std::vector<Delivery> out;
  Result<StreamState> state = bus.GetStream(stream);
  EXPECT_TRUE(state.ok()) << state.status().ToString();
  if (!state.ok()) return out;
  ConsumerConfig config;
  config.stream = stream;
  config.ack_all = true;
  auto consumer = bus.Consume(config);
  EXPECT_TRUE(consumer.ok()) << consumer.status().ToString();
  if (!consumer.ok()) return out;
  while (out.size() < state->messages) {
    auto batch = (*consumer)->Fetch(256, Duration::Seconds(2));
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok() || batch->empty()) break;
    for (Delivery& d : *batch) out.push_back(std::move(d));
    EXPECT_TRUE((*consumer)->Ack(out.back().sequence).ok());
  }
  return out;
}

// Payloads that do not compress (the archive is compressed): several chunks of a snapshot.
std::string Payload(std::mt19937_64& random, size_t size) {
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(random() & 0xff);
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class StreamBackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<TempDir> dir = TempDir::Make("aits-stream-backup");
    ASSERT_TRUE(dir.ok()) << dir.status().ToString();
    dir_ = std::make_unique<TempDir>(std::move(dir).value());
    source_ = MustStart();
    ASSERT_NE(source_.bus, nullptr);
  }
  std::string File(const std::string& name) const { return dir_->path() + "/" + name; }

  std::unique_ptr<TempDir> dir_;
  Server source_;
};

TEST_F(StreamBackupTest, ARestoredStreamHoldsTheSameMessagesUnderTheSameSequences) {
  MessageBus& bus = *source_.bus;
  // ORDERS: 400 messages on two subjects, some of 20 KiB, each with a publish id.
  ASSERT_TRUE(bus.AddStream({.name = "ORDERS", .subjects = {"orders.>"}}).ok());
  std::mt19937_64 random(11);
  for (int i = 1; i <= 400; ++i) {
    const std::string subject = i % 3 == 0 ? "orders.gbpusd" : "orders.eurusd";
    const auto ack = bus.Publish(subject, "order-" + std::to_string(i),
                                 Payload(random, i % 10 == 0 ? 20'000 : 200));
    ASSERT_TRUE(ack.ok()) << ack.status().ToString();
    ASSERT_EQ(ack->sequence, static_cast<uint64_t>(i));
  }
  // MARKET: a limit of 100 messages, 250 published: it holds 151..250, so the restore must keep
  // sequences that do not start at 1.
  StreamConfig market{.name = "MARKET", .subjects = {"market.>"}, .max_messages = 100};
  ASSERT_TRUE(bus.AddStream(market).ok());
  for (int i = 1; i <= 250; ++i) {
    ASSERT_TRUE(
        bus.Publish("market.eurusd", "tick-" + std::to_string(i), Payload(random, 64)).ok());
  }
  // A durable reader of ORDERS that has acknowledged the first 150.
  ConsumerConfig reader{.stream = "ORDERS", .durable = "reader"};
  {
    auto consumer = bus.Consume(reader);
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    uint64_t acked = 0;
    while (acked < 150) {
      auto batch = (*consumer)->Fetch(static_cast<int>(150 - acked), Duration::Seconds(2));
      ASSERT_TRUE(batch.ok() && !batch->empty());
      for (const Delivery& d : *batch) ASSERT_TRUE((*consumer)->Ack(d.sequence).ok());
      acked += batch->size();
    }
  }
  // Acks are asynchronous: wait until the server has applied them before the snapshot.
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto positions = ListConsumers(source_.options, "ORDERS");
    ASSERT_TRUE(positions.ok()) << positions.status().ToString();
    ASSERT_EQ(positions->size(), 1u);
    if ((*positions)[0].ack_floor == 150) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  const std::vector<Delivery> orders = ReadAll(bus, "ORDERS");
  const std::vector<Delivery> ticks = ReadAll(bus, "MARKET");
  ASSERT_EQ(orders.size(), 400u);
  ASSERT_EQ(ticks.size(), 100u);
  EXPECT_EQ(ticks.front().sequence, 151u);

  uint64_t progress_calls = 0;
  uint64_t progress_stream_bytes = 0;
  BackupOptions with_progress;
  with_progress.progress = [&](uint64_t, uint64_t stream_bytes) {
    ++progress_calls;
    progress_stream_bytes = stream_bytes;
  };
  auto orders_backup = BackupStream(source_.options, "ORDERS", File("orders.bak"), with_progress);
  ASSERT_TRUE(orders_backup.ok()) << orders_backup.status().ToString();
  EXPECT_EQ(orders_backup->messages, 400u);
  EXPECT_EQ(orders_backup->first_sequence, 1u);
  EXPECT_EQ(orders_backup->last_sequence, 400u);
  EXPECT_EQ(orders_backup->consumers, 1u);
  EXPECT_GT(orders_backup->snapshot_bytes, 128u * 1024u) << "expected several chunks";
  EXPECT_GT(progress_calls, 1u);
  EXPECT_EQ(progress_stream_bytes, orders_backup->stream_bytes);
  EXPECT_GT(progress_stream_bytes, 400u * 200u);
  EXPECT_FALSE(std::filesystem::exists(File("orders.bak.partial")));
  auto market_backup = BackupStream(source_.options, "MARKET", File("market.bak"));
  ASSERT_TRUE(market_backup.ok()) << market_backup.status().ToString();
  EXPECT_EQ(market_backup->first_sequence, 151u);

  // The file describes itself without a server.
  auto described = ReadStreamBackup(File("orders.bak"));
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  EXPECT_EQ(described->stream, "ORDERS");
  EXPECT_EQ(described->subjects, std::vector<std::string>{"orders.>"});
  EXPECT_EQ(described->last_sequence, 400u);
  EXPECT_EQ(described->snapshot_bytes, orders_backup->snapshot_bytes);
  EXPECT_EQ(described->source, source_.process->url());

  // Into a fresh server.
  Server fresh = MustStart();
  ASSERT_NE(fresh.bus, nullptr);
  auto restored = RestoreStream(fresh.options, File("orders.bak"));
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->messages, 400u);
  EXPECT_EQ(restored->last_sequence, 400u);
  ASSERT_TRUE(RestoreStream(fresh.options, File("market.bak")).ok());

  const std::vector<Delivery> orders_after = ReadAll(*fresh.bus, "ORDERS");
  const std::vector<Delivery> ticks_after = ReadAll(*fresh.bus, "MARKET");
  ASSERT_EQ(orders_after.size(), orders.size());
  ASSERT_EQ(ticks_after.size(), ticks.size());
  for (size_t i = 0; i < orders.size(); ++i) {
    SCOPED_TRACE("ORDERS message " + std::to_string(i));
    EXPECT_EQ(orders_after[i].sequence, orders[i].sequence);
    EXPECT_EQ(orders_after[i].subject, orders[i].subject);
    EXPECT_EQ(orders_after[i].id, orders[i].id);
    EXPECT_EQ(orders_after[i].payload, orders[i].payload);
    EXPECT_EQ(orders_after[i].stored.ns, orders[i].stored.ns);
  }
  for (size_t i = 0; i < ticks.size(); ++i) {
    EXPECT_EQ(ticks_after[i].sequence, ticks[i].sequence);
    EXPECT_EQ(ticks_after[i].payload, ticks[i].payload);
  }

  // The durable reader resumes after the 150 it had acknowledged.
  auto positions = ListConsumers(fresh.options, "ORDERS");
  ASSERT_TRUE(positions.ok()) << positions.status().ToString();
  ASSERT_EQ(positions->size(), 1u);
  EXPECT_EQ((*positions)[0].name, "reader");
  EXPECT_EQ((*positions)[0].ack_floor, 150u);
  {
    auto consumer = fresh.bus->Consume(reader);
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    auto batch = (*consumer)->Fetch(1, Duration::Seconds(2));
    ASSERT_TRUE(batch.ok() && batch->size() == 1u);
    EXPECT_EQ((*batch)[0].sequence, 151u);
    EXPECT_EQ((*batch)[0].id, "order-151");
  }

  // A retried publish is still stored once (the duplicate window rebuilt from the ids), and a
  // new one follows the last sequence.
  auto again = fresh.bus->Publish("orders.eurusd", "order-400", "again");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->sequence, 400u);
  auto next = fresh.bus->Publish("orders.eurusd", "order-401", "new");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_FALSE(next->duplicate);
  EXPECT_EQ(next->sequence, 401u);
}

TEST_F(StreamBackupTest, WithoutConsumersTheStreamComesBackAlone) {
  ASSERT_TRUE(source_.bus->AddStream({.name = "FEATURES", .subjects = {"features.>"}}).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(source_.bus->Publish("features.x", "", "row").ok());
  ASSERT_TRUE(source_.bus->Consume({.stream = "FEATURES", .durable = "features-reader"}).ok());
  auto backup =
      BackupStream(source_.options, "FEATURES", File("f.bak"), BackupOptions{.consumers = false});
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  EXPECT_EQ(backup->consumers, 0u);
  Server fresh = MustStart();
  ASSERT_NE(fresh.bus, nullptr);
  ASSERT_TRUE(RestoreStream(fresh.options, File("f.bak"), RestoreOptions{.replicas = 1}).ok());
  auto positions = ListConsumers(fresh.options, "FEATURES");
  ASSERT_TRUE(positions.ok()) << positions.status().ToString();
  EXPECT_TRUE(positions->empty());
  EXPECT_EQ(ReadAll(*fresh.bus, "FEATURES").size(), 5u);
}

TEST_F(StreamBackupTest, ABackupOfAStreamThatDoesNotExistNamesItAndWritesNothing) {
  auto backup = BackupStream(source_.options, "NOPE", File("nope.bak"));
  ASSERT_FALSE(backup.ok());
  EXPECT_EQ(backup.status().code(), StatusCode::kNotFound) << backup.status().ToString();
  EXPECT_NE(backup.status().message().find("NOPE"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(File("nope.bak")));
  EXPECT_FALSE(std::filesystem::exists(File("nope.bak.partial")));
  // A file that cannot be written: named, and nothing left.
  ASSERT_TRUE(source_.bus->AddStream({.name = "S", .subjects = {"s.>"}}).ok());
  auto unwritable = BackupStream(source_.options, "S", File("missing-dir/s.bak"));
  ASSERT_FALSE(unwritable.ok());
  EXPECT_EQ(unwritable.status().code(), StatusCode::kIoError);
  EXPECT_NE(unwritable.status().message().find("missing-dir/s.bak"), std::string::npos);
}

TEST_F(StreamBackupTest, ARestoreRefusesAnExistingStreamAndABackupThatIsNotWhole) {
  ASSERT_TRUE(source_.bus->AddStream({.name = "DECISIONS", .subjects = {"decisions.>"}}).ok());
  std::mt19937_64 random(3);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(source_.bus->Publish("decisions.a", "", Payload(random, 10'000)).ok());
  }
  const std::string whole = File("d.bak");
  ASSERT_TRUE(BackupStream(source_.options, "DECISIONS", whole).ok());

  // Onto the server that has it.
  auto existing = RestoreStream(source_.options, whole);
  ASSERT_FALSE(existing.ok());
  EXPECT_EQ(existing.status().code(), StatusCode::kFailedPrecondition)
      << existing.status().ToString();
  EXPECT_NE(existing.status().message().find("DECISIONS"), std::string::npos);

  // Cut short (anywhere: in a frame, at a frame's end, in the end marker), or not a backup: the
  // file is named and the fresh server is never asked.
  Server fresh = MustStart();
  ASSERT_NE(fresh.bus, nullptr);
  const std::string bytes = Slurp(whole);
  for (const size_t cut : {bytes.size() / 2, bytes.size() - 12, bytes.size() - 3, size_t{40}}) {
    SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(bytes.size()));
    const std::string path = File("cut.bak");
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, cut);
    auto described = ReadStreamBackup(path);
    ASSERT_FALSE(described.ok());
    EXPECT_EQ(described.status().code(), StatusCode::kDataLoss) << described.status().ToString();
    EXPECT_NE(described.status().message().find(path), std::string::npos);
    EXPECT_EQ(RestoreStream(fresh.options, path).status().code(), StatusCode::kDataLoss);
  }
  const std::string junk = File("junk.bak");
  std::ofstream(junk) << "not a backup\n";
  EXPECT_EQ(RestoreStream(fresh.options, junk).status().code(), StatusCode::kDataLoss);
  const std::string missing = File("missing.bak");
  auto absent = RestoreStream(fresh.options, missing);
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound);
  EXPECT_NE(absent.status().message().find(missing), std::string::npos);
  EXPECT_EQ(fresh.bus->GetStream("DECISIONS").status().code(), StatusCode::kNotFound);

  // A damaged byte inside the archive: the server's checksums refuse it, and no stream is left.
  std::string damaged = bytes;
  damaged[bytes.size() / 2] = static_cast<char>(damaged[bytes.size() / 2] ^ 0x5a);
  std::ofstream(File("damaged.bak"), std::ios::binary) << damaged;
  auto refused = RestoreStream(fresh.options, File("damaged.bak"));
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("DECISIONS"), std::string::npos)
      << refused.status().ToString();
  EXPECT_EQ(fresh.bus->GetStream("DECISIONS").status().code(), StatusCode::kNotFound);

  // And the whole file still restores there.
  auto restored = RestoreStream(fresh.options, whole);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->messages, 50u);
}

TEST(StreamBackupServerTest, AnUnreachableServerIsNamed) {
  NatsOptions options;
  options.servers = {"nats://127.0.0.1:1"};
  options.connect_timeout = Duration::Millis(500);
  auto backup = BackupStream(options, "ORDERS", "/nonexistent/x.bak");
  ASSERT_FALSE(backup.ok());
  EXPECT_EQ(backup.status().code(), StatusCode::kUnavailable) << backup.status().ToString();
  EXPECT_NE(backup.status().message().find("nats://127.0.0.1:1"), std::string::npos);
}

}  // namespace
}  // namespace aits::bus
