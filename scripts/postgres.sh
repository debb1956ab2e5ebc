#!/usr/bin/env bash
# postgres.sh start|stop|url DIR [PORT]: a PostgreSQL cluster in DIR, listening on 127.0.0.1:PORT
# only, with a superuser role and database `moodtune` (trust auth: a local cluster for the server
# profile and the tests, never exposed). PostgreSQL refuses to run as root, so as root the
# cluster is owned and run by the unprivileged system user `postgres` (created if missing).
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop|url DIR [PORT]}
dir=$(realpath -m "${2:?data dir}")
port=${3:-5433}
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] && [ "$cmd" != url ]; then
  echo "PostgreSQL is not installed: run 'apt-get install postgresql' (make system-deps does)" >&2
  exit 1
fi
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
case $cmd in
  start)
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"
      [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres; chown postgres "$dir"; }
      chmod 700 "$dir"
      as_owner "$bindir/initdb" -D "$dir" -U moodtune -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      echo "postgres: already running in $dir"
    else
      as_owner "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null
      echo "postgres: up on 127.0.0.1:$port (data in $dir)"
    fi
    as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U moodtune -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='moodtune'" | grep -q 1 \
      || as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U moodtune moodtune
    ;;
  stop)
    if [ -f "$dir/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_owner "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null && echo "postgres: stopped"
    fi
    ;;
  url)
    echo "postgresql+psycopg://moodtune@127.0.0.1:$port/moodtune"
    ;;
  *) echo "usage: postgres.sh start|stop|url DIR [PORT]" >&2; exit 2 ;;
esac
