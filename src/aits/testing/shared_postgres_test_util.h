// One PostgreSQL server (PostgresServer) for every test of a binary, started before the first test
// and stopped after the last: a server takes about a second to start, a database of its own
// (PostgresServer::CreateDatabase) keeps tests apart. A binary registers it once, in one file:
//
//   const auto* const kPostgresEnvironment =
//       ::testing::AddGlobalTestEnvironment(new test_servers::SharedPostgresEnvironment);
//
// and its tests reach the server through SharedPostgresEnvironment::server(), nullptr when it did
// not start (the environment's failure is reported before the tests run).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <utility>

#include "aits/testing/servers.h"

namespace aits::test_servers {

class SharedPostgresEnvironment : public ::testing::Environment {
 public:
  static PostgresServer* server() { return server_.get(); }

  void SetUp() override {
    auto server = PostgresServer::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  void TearDown() override { server_.reset(); }

 private:
  static inline std::unique_ptr<PostgresServer> server_;
};

}  // namespace aits::test_servers
