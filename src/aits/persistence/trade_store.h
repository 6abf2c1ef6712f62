// The trade store: the closed round trips of every session (portfolio::TradeRecord) in one
// place that outlives the sessions, for the API (issue 12) and reports. Written by the account's
// owner (aits paper, aits serve --role risk,execution, --trades LOCATION) as its event log
// commits; read with filters by time and symbol, a page at a time.
//
// Two implementations behind one interface, chosen by the location (OpenTradeStore): a file is
// an embedded SQLite database, "postgresql://user@host:port/db" a PostgreSQL database (tables
// migrated at open, component "trades"). record_stores_test.cc runs one contract over both.
//
// Keys and restarts: a trade is keyed by (session, number), its number being its place among the
// session's closed trades (1, 2, ...). An owner that restarts replays its log, which closes the
// same trades with the same numbers, and writes them again: a trade whose key is stored is left
// as it is, so each is stored once however often it is written.
//
// Not thread-safe: one store per thread (each opens its own connection).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aits/core/status.h"
#include "aits/core/time.h"
#include "aits/portfolio/portfolio.h"

namespace aits::persistence {

struct StoredTrade {
  std::string session;  // the session's id (SessionSpec::session_id)
  int64_t number = 0;   // 1, 2, ... among the session's closed trades
  std::string symbol;
  // As the portfolio closed it; `instrument` is the session's own numbering of its instruments.
  portfolio::TradeRecord trade;
};

// Where a page ends: the next page starts after this trade (keyset pagination, stable while
// trades are added).
struct TradeCursor {
  Timestamp exit_time;
  std::string session;
  int64_t number = 0;
};

// Trades ordered by (exit time, session, number); every set filter must match.
struct TradeQuery {
  std::optional<std::string> session;
  std::optional<std::string> symbol;
  std::optional<Timestamp> from;  // exit time >= from
  std::optional<Timestamp> to;    // exit time < to
  std::optional<TradeCursor> after;
  size_t limit = 1000;  // 1..100000
};

struct TradePage {
  std::vector<StoredTrade> trades;
  // Set when the page is full: pass it as `after` for the next one.
  std::optional<TradeCursor> next;
};

class TradeStore {
 public:
  virtual ~TradeStore() = default;
  // The file, or "postgresql://host:port/db" (never a password).
  virtual const std::string& location() const = 0;
  // Stores `trades` in one transaction, each unless its (session, number) is stored already.
  // Returns how many were new. A failure stores none of them. InvalidArgument for a trade
  // without a session or with a number below 1.
  virtual Result<size_t> Write(std::span<const StoredTrade> trades) = 0;
  // One page of the trades the query selects. InvalidArgument for a limit outside 1..100000.
  virtual Result<TradePage> Read(const TradeQuery& query) = 0;
};

// A file: the SQLite store (created if missing); "postgresql://...": the PostgreSQL one. Errors
// name the location: IoError/DataLoss for a file that cannot be opened or is no database,
// Unavailable for a server that cannot be reached, FailedPrecondition for a schema newer than
// this build.
Result<std::unique_ptr<TradeStore>> OpenTradeStore(const std::string& location);

}  // namespace aits::persistence
