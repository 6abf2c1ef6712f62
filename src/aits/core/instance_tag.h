// A random tag that tells apart instances of one thing across processes and restarts: a cache's
// own invalidations from another process's (cache.h), a venue client's or bridge's message ids
// from a restarted one's (services/bus_venue.h). Not a secret and not guaranteed unique: 64 random
// bits from the system's entropy, mixed with the process id and the clock.
#pragma once

#include <string>

namespace aits {

// 16 lowercase hex digits.
std::string NewInstanceTag();

}  // namespace aits
