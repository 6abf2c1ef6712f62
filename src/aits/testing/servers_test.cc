// The Redis server of the tests: started, answering on its port, killed and restarted empty. (The
// NATS and PostgreSQL servers are exercised by the bus's and the stores' tests.)
#include "aits/testing/servers.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace aits::test_servers {
namespace {

// Sends one inline command and returns the first reply line ("" when the port does not answer).
std::string Ask(int port, const std::string& command) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string line = command + "\r\n";
    if (::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
      char buffer[256];
      const ssize_t got = ::read(fd, buffer, sizeof(buffer));
      if (got > 0) reply.assign(buffer, static_cast<size_t>(got));
    }
  }
  ::close(fd);
  const size_t end = reply.find("\r\n");
  return end == std::string::npos ? reply : reply.substr(0, end);
}

TEST(RedisServerTest, AnswersIsKilledAndRestartsEmptyOnTheSamePort) {
  auto server = RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  EXPECT_EQ(Ask(port, "PING"), "+PONG");
  EXPECT_EQ(Ask(port, "SET aits:test 42"), "+OK");
  EXPECT_EQ(Ask(port, "EXISTS aits:test"), ":1");
  (*server)->Kill();
  EXPECT_EQ(Ask(port, "PING"), "");
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_EQ((*server)->port(), port);
  EXPECT_EQ(Ask(port, "EXISTS aits:test"), ":0");  // no persistence: a cache
}

TEST(FreePortTest, GivesALoopbackPortNobodyListensOn) {
  auto port = FreePort();
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  EXPECT_GT(*port, 0);
  EXPECT_EQ(Ask(*port, "PING"), "");
}

}  // namespace
}  // namespace aits::test_servers
