// What the bus module's users of cnats share (nats_bus.cc, stream_backup.cc): one classification
// of cnats' failures, and owning handles. Private to the module: nothing above it sees cnats.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <string>

#include "aits/core/status.h"
#include "aits/core/time.h"

namespace aits::bus::internal {

// One classification of cnats' failures, so that callers can tell "try later" (Unavailable,
// DeadlineExceeded) from "that does not exist" and "that is wrong". `js_error`: JetStream's
// error code when the call had one (0: none).
Status FromNats(natsStatus s, jsErrCode js_error, const std::string& what);
inline Status FromNats(natsStatus s, const std::string& what) {
  return FromNats(s, static_cast<jsErrCode>(0), what);
}

// cnats' timeouts are whole milliseconds, at least one.
inline int64_t Millis(Duration d) { return d.ns / 1'000'000 > 1 ? d.ns / 1'000'000 : 1; }

struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using MsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;

}  // namespace aits::bus::internal
