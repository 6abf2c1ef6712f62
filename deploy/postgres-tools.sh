# shellcheck shell=bash
# What deploy/backup-postgres.sh and deploy/restore-postgres.sh share, sourced by both after they
# define fail(): PostgreSQL 15's own tools, and the database's URI.
#   postgres_tools TOOL...  sets `bin` (PG_BIN, default /usr/lib/postgresql/15/bin); fails
#                           unless every TOOL is there. Not Debian's /usr/bin wrappers, which
#                           pick a version by the local clusters, which a backup host need not have.
#   postgres_uri URI        sets `uri` (without a '#session': the whole database is meant) and
#                           `shown` (the same without a password, if one was given anyway, for
#                           messages); fails unless it is a postgresql:// URI.

postgres_tools() {
  bin="${PG_BIN:-/usr/lib/postgresql/15/bin}"
  local tool
  for tool in "$@"; do
    [[ -x "${bin}/${tool}" ]] ||
      fail "${bin}/${tool} not found (apt-get install postgresql-client-15, or set PG_BIN)"
  done
}

postgres_uri() {
  uri="${1%%#*}"
  [[ "${uri}" == postgresql://* || "${uri}" == postgres://* ]] ||
    fail "${uri}: not a postgresql:// URI"
  # shellcheck disable=SC2034  # read by the scripts that source this file
  shown="$(sed -E 's|(://[^:/@]*):[^@]*@|\1:***@|' <<<"${uri}")"
}
