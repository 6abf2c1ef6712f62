// Shared by the session module's tests (and the services' that run sessions): a throwaway
// directory, a synthetic session that trades often, paper options that run it as fast as
// possible, and a log's lines to compare two runs by.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "aits/persistence/pg_event_store.h"
#include "aits/session/busy_spec.h"
#include "aits/session/paper.h"
#include "aits/session/session_spec.h"

namespace aits::session {

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("aits_session_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

inline PaperOptions MaxSpeed(const SessionSpec& spec, const std::string& dir) {
  PaperOptions options;
  options.spec = spec;
  options.state_dir = dir;
  options.speed = 0;
  options.store.batch_events = 512;
  options.checkpoint_every = 2000;
  return options;
}

// Every logged event but the stops and their checkpoints (where runs differ by design), as
// "type ts payload" lines: wall times are not compared. `where`: a state directory, or a
// PostgreSQL location.
inline std::vector<std::string> LogLines(const std::string& where) {
  using persistence::Event;
  using persistence::EventType;
  auto store = persistence::OpenEventStoreAtReadOnly(
      persistence::IsPostgresLocation(where) ? where : where + "/events.db");
  EXPECT_TRUE(store.ok()) << store.status().message();
  std::vector<std::string> lines;
  if (!store.ok()) return lines;
  EXPECT_TRUE((*store)
                  ->Scan(1,
                         [&](const Event& event) {
                           if (event.type == EventType::kSessionStop ||
                               event.type == EventType::kAccount) {
                             return Status::Ok();
                           }
                           lines.push_back(std::string(persistence::ToString(event.type)) + " " +
                                           std::to_string(event.ts.ns) + " " + event.payload);
                           return Status::Ok();
                         })
                  .ok());
  return lines;
}

}  // namespace aits::session
