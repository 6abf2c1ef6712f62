#!/usr/bin/env bash
# Restores a dump made by deploy/backup-postgres.sh into an empty database (docs/deployment.md,
# "Backups"), then lists the event logs it holds.
#   deploy/restore-postgres.sh FILE URI
# FILE  the dump; a sealed one (backup-postgres.sh with AITS_BACKUP_KEY) is opened with the
#       master key file AITS_BACKUP_KEY by `aits secret unseal` (AITS_BIN, default aits on PATH)
#       into a private temporary file, removed at the end.
# URI   the database to restore into, a libpq URI (postgresql://aits@HOST:5432/aits; a '#session'
#       is dropped; the password from PGPASSWORD or ~/.pgpass). It must exist and hold no table
#       of its own: a fresh server's database (the postgres image's entrypoint makes it), or one
#       made with createdb. A database with tables is refused, naming them: a restore merges
#       nothing, and never overwrites a live log.
# The restore is one transaction: it lands whole or not at all. Objects are created as the
# connecting user (--no-owner), whoever owned them where the dump was taken.
# Then check a session: aits replay --events 'URI#SESSION' re-runs it and compares every event.
# PostgreSQL 15's tools (postgresql-client-15): PG_BIN, default /usr/lib/postgresql/15/bin
# (deploy/postgres-tools.sh).
set -euo pipefail
umask 077  # the dump, plain or sealed, is readable by its owner only, from its first byte

fail() { echo "restore-postgres: $*" >&2; exit 1; }
if [[ $# -ne 2 || "$1" == -* ]]; then
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0" >&2
  exit 2
fi
# Sets bin, uri and shown (checked there; deploy/check.sh runs shellcheck without following it).
bin="" uri="" shown=""
# shellcheck disable=SC1091
source "$(dirname "$0")/postgres-tools.sh"
postgres_tools pg_restore psql
postgres_uri "$2"
file="$1"
[[ -r "${file}" ]] || fail "${file}: no such file"
if [[ "$(head -c 13 "${file}" | tr -d '\0')" == "AITS-SEALED-1" ]]; then
  [[ -n "${AITS_BACKUP_KEY:-}" ]] ||
    fail "${file} is sealed: give its master key file as AITS_BACKUP_KEY"
  opened_dir="$(mktemp -d "${TMPDIR:-/tmp}/aits-restore.XXXXXX")"
  trap 'rm -rf "${opened_dir}"' EXIT
  opened="${opened_dir}/dump"
  "${AITS_BIN:-aits}" secret unseal --in "${file}" --out "${opened}" \
      --master-key "${AITS_BACKUP_KEY}" --quiet ||
    fail "${file}: cannot be opened with the key in ${AITS_BACKUP_KEY}"
  file="${opened}"
fi
"${bin}/pg_restore" --list "${file}" >/dev/null 2>&1 ||
  fail "${file}: not a dump pg_restore can read (deploy/backup-postgres.sh writes one)"

psql_at() { "${bin}/psql" --no-password --no-psqlrc --quiet --tuples-only --no-align \
              --set ON_ERROR_STOP=1 --dbname="${uri}" "$@"; }
existing="$(psql_at --command "SELECT string_agg(table_schema || '.' || table_name, ', ')
  FROM information_schema.tables
  WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")" ||
  fail "cannot reach ${shown}"
[[ -z "${existing}" ]] ||
  fail "${shown} is not empty (${existing}): restore into a fresh database"

start=${SECONDS}
"${bin}/pg_restore" --no-password --exit-on-error --single-transaction --no-owner \
  --dbname="${uri}" "${file}" ||
  fail "pg_restore of ${file} into ${shown} failed; nothing was restored (one transaction)"
echo "restore-postgres: ${file} restored into ${shown} in $((SECONDS - start)) s"
# What the event store holds now: one line per session, its last event.
if [[ -n "$(psql_at --command "SELECT to_regclass('public.events')")" ]]; then
  psql_at --field-separator=' ' --command "SELECT 'session ' || s.name || ': ' ||
      coalesce(max(e.seq), 0) || ' events' FROM event_sessions s
      LEFT JOIN events e ON e.session = s.name GROUP BY s.name ORDER BY s.name" |
    sed 's/^/restore-postgres: /'
fi
