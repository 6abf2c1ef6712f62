// The event store on PostgreSQL: the EventStore contract (event_store.h) with every session's
// log in one database, for the services (docs/services.md, "Stores"). A location names the
// server and the session: "postgresql://aits@127.0.0.1:5432/aits#paper-eurusd" (any libpq URI,
// then '#' and the session's name).
//
// Tables (migration 1 of component "event_store", applied at open): event_sessions(name),
// events(session, seq, type, ts, wall, payload bytea, checksum) keyed by (session, seq), and
// event_commands(id, session, created, text, applied_seq).
//
// Batches as in SQLite: the first write of a batch opens a transaction; appended events are
// encoded into one binary COPY buffer and sent at Commit (or before the writer's Scan, so that it
// sees its own batch); Commit ends the transaction. Any statement that fails inside the batch
// loses the batch (PostgreSQL aborts the transaction), and Commit says so rather than commit. A
// commit that returned is durable (synchronous_commit on; Sync::kOff turns it off). A lost
// connection or a failed statement inside a batch loses that batch, never a committed event: every
// later write fails with the reason, and the session is reopened from its committed log.
//
// One writer per session: Open takes a session-level advisory lock, held by its connection, so a
// second writer (another process, another machine) is refused with FailedPrecondition until the
// first closes or dies (the server frees the lock with the connection).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "aits/core/status.h"
#include "aits/persistence/event_store.h"
#include "aits/persistence/postgres.h"

namespace aits::persistence {

struct PgLocation {
  std::string conninfo;  // the URI before '#'
  std::string session;   // 1-128 characters: letters, digits, '-', '_', '.'
};

// True for "postgresql://..." and "postgres://...".
bool IsPostgresLocation(std::string_view location);
// InvalidArgument naming the location when the '#session' part is missing or not a valid name.
Result<PgLocation> ParsePgLocation(std::string_view location);

Result<std::unique_ptr<EventStore>> OpenPgEventStore(const PgLocation& location,
                                                     const EventStoreOptions& options = {});
// NotFound when the session has no log on the server.
Result<std::unique_ptr<EventStore>> OpenPgEventStoreReadOnly(const PgLocation& location,
                                                             const EventStoreOptions& options = {});

// Either store by its location: a PostgreSQL location as above, anything else a SQLite file.
Result<std::unique_ptr<EventStore>> OpenEventStoreAt(const std::string& location,
                                                     const EventStoreOptions& options = {});
Result<std::unique_ptr<EventStore>> OpenEventStoreAtReadOnly(const std::string& location,
                                                             const EventStoreOptions& options = {});

// The event store's schema, version by version (tests migrate from each).
std::span<const pg::Migration> EventStoreMigrations();

}  // namespace aits::persistence
