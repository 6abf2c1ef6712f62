#!/bin/bash
# Entrypoint of the postgres image (deploy/Containerfile, target postgres): on the first start,
# makes the cluster in $PGDATA — superuser $POSTGRES_USER (default aits) with the password in
# $POSTGRES_PASSWORD or in the file $POSTGRES_PASSWORD_FILE, database $POSTGRES_DB (default the
# user's name), a password (scram-sha-256) required on every connection — then runs the server in
# the foreground, with this script's arguments added to its command line (-c name=value ...).
# The variables are named as the official postgres image names them, so that the compose file
# and the manifests fit either image.
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
: "${PGDATA:?PGDATA must name the data directory (a subdirectory of the volume: initdb must own it)}"
user="${POSTGRES_USER:-aits}"
database="${POSTGRES_DB:-${user}}"

# Names go into SQL below unquoted by a library: keep them to plain identifiers.
for name in "${user}" "${database}"; do
  if [[ ! "${name}" =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; then
    echo "postgres-entrypoint: '${name}' (POSTGRES_USER or POSTGRES_DB) is not a plain" \
         "identifier: lower-case letters, digits and '_', at most 63" >&2
    exit 1
  fi
done

if [[ ! -s "${PGDATA}/PG_VERSION" ]]; then
  if [[ -n "${POSTGRES_PASSWORD_FILE:-}" ]]; then
    password="$(<"${POSTGRES_PASSWORD_FILE}")"
  else
    password="${POSTGRES_PASSWORD:-}"
  fi
  if [[ -z "${password}" ]]; then
    echo "postgres-entrypoint: ${PGDATA} holds no cluster and no password is given: set" \
         "POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" >&2
    exit 1
  fi
  # initdb reads the password from a file; this one lives in /tmp (a tmpfs or emptyDir, the root
  # filesystem being read-only) only while initdb runs.
  pwfile="$(mktemp)"
  trap 'rm -f "${pwfile}"' EXIT
  printf '%s\n' "${password}" >"${pwfile}"
  # C collation: the event store sorts numbers and bytes, and a collation that never changes
  # with a libc upgrade cannot corrupt an index. Checksums: a torn or rotten page is an error
  # rather than a wrong event.
  "${bin}/initdb" --pgdata="${PGDATA}" --username="${user}" --pwfile="${pwfile}" \
    --auth-local=scram-sha-256 --auth-host=scram-sha-256 --encoding=UTF8 --locale=C \
    --data-checksums
  rm -f "${pwfile}"
  # Any address, with a password: which pods may connect at all is the NetworkPolicy's business
  # (deploy/k8s/network-policies.yaml), or the compose network's.
  printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' \
    >>"${PGDATA}/pg_hba.conf"
  if [[ "${database}" != postgres ]]; then
    # Single-user mode: the database exists before the server listens to anyone.
    echo "CREATE DATABASE ${database} OWNER ${user};" |
      "${bin}/postgres" --single -D "${PGDATA}" postgres >/dev/null
  fi
  echo "postgres-entrypoint: made the cluster in ${PGDATA}: user ${user}, database ${database}"
fi

# The socket goes to /tmp: /var/run/postgresql is on the read-only root filesystem.
exec "${bin}/postgres" -D "${PGDATA}" -c listen_addresses='*' -c unix_socket_directories=/tmp "$@"
