#include "aits/net/socket.h"

#include <array>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <netdb.h>
#include <unistd.h>

namespace aits::net {
namespace {

using std::chrono::milliseconds;

struct Pair {
  Listener listener;
  Socket client;
  Socket server;
};

Pair Connected() {
  Pair pair;
  auto listener = Listener::Listen(Endpoint{.host = "127.0.0.1", .port = 0});
  EXPECT_TRUE(listener.ok()) << listener.status().ToString();
  pair.listener = std::move(*listener);
  EXPECT_NE(pair.listener.port(), 0);
  auto client = Connect(pair.listener.endpoint(), milliseconds(1000));
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  pair.client = std::move(*client);
  WaitFor item{.fd = pair.listener.fd()};
  EXPECT_EQ(*Wait(std::span<WaitFor>(&item, 1), milliseconds(1000)), 1);
  auto server = pair.listener.Accept();
  EXPECT_TRUE(server.ok() && server->valid());
  pair.server = std::move(*server);
  return pair;
}

std::string ReadAll(Socket& socket, size_t want) {
  std::string got;
  std::array<char, 4096> buffer{};
  while (got.size() < want) {
    WaitFor item{.fd = socket.fd()};
    if (*Wait(std::span<WaitFor>(&item, 1), milliseconds(2000)) == 0) break;
    auto read = socket.Read(buffer);
    EXPECT_TRUE(read.ok());
    if (read->closed) break;
    got.append(buffer.data(), read->bytes);
  }
  return got;
}

TEST(Net, BytesCrossInBothDirections) {
  Pair pair = Connected();
  EXPECT_EQ(pair.client.peer(), pair.listener.endpoint().ToString());
  EXPECT_EQ(pair.server.peer().rfind("127.0.0.1:", 0), 0u);
  ASSERT_EQ(*pair.client.Write("hello"), 5u);
  EXPECT_EQ(ReadAll(pair.server, 5), "hello");
  ASSERT_EQ(*pair.server.Write("welcome"), 7u);
  EXPECT_EQ(ReadAll(pair.client, 7), "welcome");
  // Nothing to read is not an error and not a close.
  std::array<char, 16> buffer{};
  auto read = pair.server.Read(buffer);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->bytes, 0u);
  EXPECT_FALSE(read->closed);
}

TEST(Net, AFullSendBufferTakesNothingAndDrainsLater) {
  Pair pair = Connected();
  const std::string chunk(1 << 16, 'x');
  size_t written = 0;
  for (int i = 0; i < 1000; ++i) {
    auto n = pair.client.Write(chunk);
    ASSERT_TRUE(n.ok());
    written += *n;
    if (*n == 0) break;
  }
  EXPECT_LT(written, 1000u * chunk.size());  // the kernel's buffers filled before 64 MB
  EXPECT_EQ(ReadAll(pair.server, written).size(), written);
}

TEST(Net, APeerThatClosesIsReadAsClosedAndWritesFail) {
  Pair pair = Connected();
  pair.client.Close();
  std::array<char, 16> buffer{};
  WaitFor item{.fd = pair.server.fd()};
  ASSERT_EQ(*Wait(std::span<WaitFor>(&item, 1), milliseconds(1000)), 1);
  auto read = pair.server.Read(buffer);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->closed);
  // The first write may still be taken; a later one sees the reset, without SIGPIPE.
  bool failed = false;
  for (int i = 0; i < 100 && !failed; ++i) {
    failed = !pair.server.Write("x").ok();
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_TRUE(failed);
}

TEST(Net, ConnectNamesTheEndpointWhenRefused) {
  uint16_t port = 0;
  {
    auto listener = Listener::Listen(Endpoint{.host = "127.0.0.1", .port = 0});
    ASSERT_TRUE(listener.ok());
    port = listener->port();
  }
  auto socket = Connect(Endpoint{.host = "127.0.0.1", .port = port}, milliseconds(500));
  ASSERT_FALSE(socket.ok());
  EXPECT_EQ(socket.status().code(), StatusCode::kIoError);
  EXPECT_NE(socket.status().message().find("connect 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << socket.status().message();
}

TEST(Net, EndpointsAreParsedStrictly) {
  auto ok = ParseEndpoint("127.0.0.1:5555");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->host, "127.0.0.1");
  EXPECT_EQ(ok->port, 5555);
  EXPECT_TRUE(ParseEndpoint("localhost:0").ok());
  EXPECT_EQ(ParseEndpoint("127.0.0.1").status().message(), "endpoint '127.0.0.1' is not HOST:PORT");
  EXPECT_EQ(ParseEndpoint("127.0.0.1:70000").status().message(),
            "endpoint '127.0.0.1:70000': port '70000' is not a number 0..65535");
  EXPECT_EQ(ParseEndpoint("127.0.0.1:5x").status().message(),
            "endpoint '127.0.0.1:5x': port '5x' is not a number 0..65535");
  // Host names are taken as written and resolved at connect time (compose and Kubernetes name
  // their servers); text that cannot be a host name is refused.
  EXPECT_TRUE(ParseEndpoint("gateway.example:5555").ok());
  EXPECT_TRUE(ParseEndpoint("redis:6379").ok());
  EXPECT_EQ(ParseEndpoint("gate way:5555").status().message(),
            "endpoint 'gate way:5555': 'gate way' is neither an IPv4 address nor a host name");
  for (const char* bad : {"-redis:1", "redis-:1", "a..b:1", ".a:1", "a_b:1", "a.:1"}) {
    EXPECT_EQ(ParseEndpoint(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

// A host name is resolved when connecting: the machine's own name (through /etc/hosts or DNS)
// reaches a listener on all addresses; a name that cannot resolve (RFC 2606's .invalid) is an
// error naming it, not a crash or a wait.
TEST(Net, AHostNameIsResolvedWhenConnecting) {
  auto listener = Listener::Listen(Endpoint{.host = "0.0.0.0", .port = 0});
  ASSERT_TRUE(listener.ok()) << listener.status().message();
  auto unknown = Connect(Endpoint{.host = "no-such-host.invalid", .port = listener->port()},
                         milliseconds(2000));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kIoError);
  EXPECT_NE(unknown.status().message().find("resolve 'no-such-host.invalid'"), std::string::npos)
      << unknown.status().message();

  char name[256] = {};
  ASSERT_EQ(::gethostname(name, sizeof(name) - 1), 0);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  addrinfo* found = nullptr;
  if (::getaddrinfo(name, nullptr, &hints, &found) != 0) {
    GTEST_SKIP() << "this machine's name '" << name << "' does not resolve to IPv4";
  }
  ::freeaddrinfo(found);
  auto socket = Connect(Endpoint{.host = name, .port = listener->port()}, milliseconds(2000));
  ASSERT_TRUE(socket.ok()) << socket.status().message();
}

TEST(Net, AWakerInterruptsAWaitFromAnotherThread) {
  Pair pair = Connected();
  Waker waker;
  std::thread other([&] {
    std::this_thread::sleep_for(milliseconds(20));
    waker.Notify();
  });
  std::array<WaitFor, 2> items{WaitFor{.fd = pair.server.fd()}, WaitFor{.fd = waker.fd()}};
  auto ready = Wait(items, milliseconds(5000));
  other.join();
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(*ready, 1);
  EXPECT_TRUE(items[1].readable);
  EXPECT_FALSE(items[0].readable);
  waker.Drain();
  EXPECT_EQ(*Wait(items, milliseconds(0)), 0);  // drained: a timeout, not a spin
}

}  // namespace
}  // namespace aits::net
