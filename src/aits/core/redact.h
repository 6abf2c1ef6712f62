// What a location may show of itself in messages and logs: never a password. A store or
// registry location may be a URI with one ("postgresql://aits:secret@host/db"), and locations
// are named in errors, summaries and log lines.
#pragma once

#include <string>
#include <string_view>

namespace aits {

// `location` with a URI's password ("postgresql://aits:secret@host/db" ->
// "postgresql://aits:***@host/db") and every "password=" value (a query parameter or a libpq
// "key=value" setting) replaced by "***"; anything else as it is.
std::string WithoutPassword(std::string_view location);

}  // namespace aits
