#!/usr/bin/env bash
# Backs up AITS's PostgreSQL database — every session's event log, the operator commands, the
# model registry, the schema versions — into one file (docs/deployment.md, "Backups").
#   deploy/backup-postgres.sh URI FILE
# URI   the database, a libpq URI: postgresql://aits@HOST:5432/aits. The owner's --events location
#       is accepted as it stands (its '#session' is dropped: the whole database is backed up).
#       The password comes from PGPASSWORD or ~/.pgpass, as for any libpq client; never put it in
#       the URI (it would be in the shell's history and the process list).
# FILE  the dump to write: pg_dump's custom format (compressed; pg_restore reads it, table by
#       table). It is written to FILE.partial, read back whole by pg_restore --list, and only then
#       renamed to FILE: a FILE that exists is a complete dump.
# Sealed at rest: with AITS_BACKUP_KEY=KEY_FILE (the master key file, mode 600; aits api init
# makes one) the verified dump is encrypted with `aits secret seal` (AITS_BIN, default aits on
# PATH) before it becomes FILE; restore-postgres.sh opens it with the same key.
# The dump is one consistent snapshot of the database (one repeatable-read transaction), taken
# while the system trades: pg_dump blocks no writer, and a session's lock is no obstacle.
# PostgreSQL 15's pg_dump (postgresql-client-15): PG_BIN, default /usr/lib/postgresql/15/bin
# (deploy/postgres-tools.sh). It refuses a server newer than itself.
set -euo pipefail
umask 077  # the dump, plain or sealed, is readable by its owner only, from its first byte

fail() { echo "backup-postgres: $*" >&2; exit 1; }
if [[ $# -ne 2 || "$1" == -* ]]; then
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2
  exit 2
fi
# Sets bin, uri and shown (checked there; deploy/check.sh runs shellcheck without following it).
bin="" uri="" shown=""
# shellcheck disable=SC1091
source "$(dirname "$0")/postgres-tools.sh"
postgres_tools pg_dump pg_restore
postgres_uri "$1"
file="$2"

partial="${file}.partial"
rm -f "${partial}"
trap 'rm -f "${partial}"' EXIT
start=${SECONDS}
"${bin}/pg_dump" --format=custom --compress=6 --no-password --file="${partial}" "${uri}" ||
  fail "pg_dump of ${shown} failed (nothing written to ${file})"
# Read back: a dump pg_restore cannot list is no backup.
tables="$("${bin}/pg_restore" --list "${partial}" | grep -c ' TABLE DATA ')" ||
  fail "${partial}: pg_restore cannot read the dump of ${shown} (nothing written to ${file})"
if [[ -n "${AITS_BACKUP_KEY:-}" ]]; then
  # The plain dump never reaches FILE's name: sealed into FILE.partial.sealed, then renamed.
  trap 'rm -f "${partial}" "${partial}.sealed"' EXIT
  "${AITS_BIN:-aits}" secret seal --in "${partial}" --out "${partial}.sealed" \
      --master-key "${AITS_BACKUP_KEY}" --quiet ||
    fail "sealing the dump of ${shown} failed (nothing written to ${file})"
  rm -f "${partial}"
  partial="${partial}.sealed"
fi
sync "${partial}"
mv "${partial}" "${file}"
trap - EXIT
echo "backup-postgres: ${file}: ${shown}, ${tables} tables, $(stat -c %s "${file}") bytes" \
     "${AITS_BACKUP_KEY:+sealed }in $((SECONDS - start)) s"
