// The bar store: closed bars (model::Bar: bid, ask and mid OHLC, tick count, volume) of every
// symbol and timeframe, for training, charts and the API. Written by the features role (aits
// serve --role features --bars LOCATION), which builds each traded symbol's bars from the MARKET
// stream exactly as the account's owner does (docs/services.md).
//
// Two implementations behind one interface, chosen by the location (OpenBarStore): a file is an
// embedded SQLite database, "postgresql://user@host:port/db" a PostgreSQL database (tables
// migrated at open, component "bars"). record_stores_test.cc runs one contract over both.
//
// Keys and restarts: a bar is keyed by (symbol, timeframe, open time). A features role that
// restarts recomputes its bars from the first tick and writes them again: a bar whose key is
// stored is left as it is, so each is stored once.
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
#include "aits/model/market.h"

namespace aits::persistence {

struct StoredBar {
  std::string symbol;
  // As the aggregator closed it; `instrument` is 0 when read back (the store knows symbols, not
  // a session's numbering of its instruments). The prices' digits are bid.open's.
  Bar bar;
};

// Bars of one symbol and timeframe, by open time, oldest first.
struct BarQuery {
  std::string symbol;
  Duration timeframe;
  std::optional<Timestamp> from;  // open time >= from
  std::optional<Timestamp> to;    // open time < to
  size_t limit = 10'000;          // 1..1000000; the next page starts after the last open time
};

class BarStore {
 public:
  virtual ~BarStore() = default;
  // The file, or "postgresql://host:port/db" (never a password).
  virtual const std::string& location() const = 0;
  // Stores `bars` in one transaction, each unless its key is stored already. Returns how many
  // were new. A failure stores none of them. InvalidArgument for a bar without a symbol or with
  // a timeframe that is not positive.
  virtual Result<size_t> Write(std::span<const StoredBar> bars) = 0;
  // InvalidArgument for a limit outside 1..1000000.
  virtual Result<std::vector<StoredBar>> Read(const BarQuery& query) = 0;
};

// A file: the SQLite store (created if missing); "postgresql://...": the PostgreSQL one. Errors
// as OpenTradeStore's (trade_store.h).
Result<std::unique_ptr<BarStore>> OpenBarStore(const std::string& location);

}  // namespace aits::persistence
