// The offline feature store: the feature rows the features role computes (one per closed bar of
// a traded symbol: the model's input row, with the bar's close and spread), kept for training and
// analysis, beside the online copy in Redis that expires after an hour (docs/services.md). Written
// by the features role (aits serve --role features --offline-features LOCATION); ReadDataset
// gives rows ready for training (ml::Dataset, as ml_features builds from a data file).
//
// Two implementations behind one interface, chosen by the location (OpenFeatureStore): a file is
// an embedded SQLite database, "postgresql://user@host:port/db" a PostgreSQL database (tables
// migrated at open, component "offline_features"). record_stores_test.cc runs one contract over
// both.
//
// A row is keyed by (symbol, feature set, bar close). A feature set — what computed the rows and
// the names of their values — is stored once under its id, a hash of all of it, so rows of
// another model or another feature list never mix with these. Values are stored compactly: 4
// bytes each, the float the features role computed. A restarted features role recomputes its
// rows from the first tick and writes them again: a row whose key is stored is left as it is.
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
#include "aits/models/dataset.h"

namespace aits::persistence {

struct FeatureSet {
  // What computes the rows: a registry model ("ensemble@3"), or a rule signal with its
  // parameters ("sma_cross(fast=3,slow=8)"), whose rows are empty (it reads bars only).
  std::string name;
  // The feature set the model was trained on (ml::Dataset's feature_set_version and _hash);
  // empty for a rule signal.
  std::string version;
  std::string hash;
  std::vector<std::string> columns;  // the names of a row's values, in order

  // 16 hex digits: 64-bit FNV-1a over every field above. Two sets with one id are the same set.
  std::string Id() const;
  friend bool operator==(const FeatureSet&, const FeatureSet&) = default;
};

struct StoredFeatureRow {
  std::string symbol;
  std::string feature_set;  // FeatureSet::Id()
  Timestamp time;           // the bar's close: the moment the row exists
  double close = 0;         // the bar's mid close
  double spread = 0;        // ask - bid at the bar's close, in price units
  std::vector<float> values;
};

// Rows of one symbol and feature set by bar close, oldest first.
struct FeatureQuery {
  std::string symbol;
  std::string feature_set;
  std::optional<Timestamp> from;  // time >= from
  std::optional<Timestamp> to;    // time < to
  size_t limit = 100'000;         // 1..10000000; the next page starts after the last time
};

class FeatureStore {
 public:
  virtual ~FeatureStore() = default;
  // The file, or "postgresql://host:port/db" (never a password).
  virtual const std::string& location() const = 0;
  // Stores `set` unless it is stored already, and returns its id. InvalidArgument for a set
  // without a name, or a column name that is empty or holds a line break.
  virtual Result<std::string> Register(const FeatureSet& set) = 0;
  // NotFound naming the id when no set is stored under it.
  virtual Result<FeatureSet> FeatureSetOf(const std::string& id) = 0;
  // Stores `rows` in one transaction, each unless its key is stored already; returns how many
  // were new. A failure stores none. InvalidArgument for a row of a feature set not stored, or
  // whose values are not one per column of its set.
  virtual Result<size_t> Write(std::span<const StoredFeatureRow> rows) = 0;
  // InvalidArgument for a limit outside 1..10000000.
  virtual Result<std::vector<StoredFeatureRow>> Read(const FeatureQuery& query) = 0;
  // The same rows as a training dataset: the set's columns as feature_names, its version and
  // hash, and per row the time, close, spread and values. NotFound for an unknown set;
  // InvalidArgument when the rows do not make a valid dataset (ml::Dataset::Validate).
  Result<ml::Dataset> ReadDataset(const FeatureQuery& query);
};

// A file: the SQLite store (created if missing); "postgresql://...": the PostgreSQL one. Errors
// as OpenTradeStore's (trade_store.h).
Result<std::unique_ptr<FeatureStore>> OpenFeatureStore(const std::string& location);

}  // namespace aits::persistence
