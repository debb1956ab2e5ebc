#!/usr/bin/env bash
# server.sh up|down|build|library|worker [NAME]: the server profile on one machine (what
# `make up-server` runs); `library` lists audio.music_dir's shards and backfills audio_library
# over them on the Celery workers; `worker NAME` starts one more Celery worker (how a second
# machine joins: the same URLs in deploy/server.env or the environment, docs/operations.md).
#   PostgreSQL (Dagster storage, MLflow backend, feedback store) run by an unprivileged user,
#   Redis (Celery broker), an MLflow tracking server serving artifacts, two Celery workers,
#   dagster-daemon (sensors, schedules, run queue) and dagster-webserver as separate processes,
#   and the Bento service following the MLflow server. deploy/server.env holds the configuration;
#   a variable already set in the environment wins. State lives under $MOODTUNE_SERVER_DIR
#   (default data/server); logs and pids under $MOODTUNE_SERVER_DIR/logs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
while IFS='=' read -r key value; do
  [[ -z "$key" || "$key" == \#* ]] && continue
  [ -z "${!key+x}" ] && export "$key=$(eval "echo \"$value\"")"
done < deploy/server.env
export MOODTUNE_SERVER_DIR=${MOODTUNE_SERVER_DIR:-$ROOT/data/server}
STATE=$MOODTUNE_SERVER_DIR
export LOGS=$STATE/logs
export DAGSTER_HOME=$STATE/dagster
export MOODTUNE_DATA_DIR=${MOODTUNE_DATA_DIR:-$STATE/data}
export BENTOML_HOME=${BENTOML_HOME:-$STATE/bentoml}
export BENTOML_DO_NOT_TRACK=True MPLBACKEND=Agg PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
PG_DIR=${MOODTUNE_PG_DIR:-$STATE/postgres}
HOST=${HOST:-127.0.0.1}
BIN=$ROOT/.venv/bin
export PATH=$BIN:$PATH
start() { bash scripts/start.sh "$@"; }
PROCESSES="service webserver daemon worker2 worker1 mlflow redis"

up() {
  mkdir -p "$STATE" "$DAGSTER_HOME" "$LOGS" "$MOODTUNE_DATA_DIR"
  cp deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
  bash scripts/postgres.sh start "$PG_DIR" "$PG_PORT"
  for db in mlflow dagster feedback; do
    psql -h 127.0.0.1 -p "$PG_PORT" -U moodtune -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" \
      | grep -q 1 || createdb -h 127.0.0.1 -p "$PG_PORT" -U moodtune "$db"
  done
  start redis "redis-server --bind 127.0.0.1 --port $REDIS_PORT --save '' --appendonly no" "$REDIS_PORT"
  start mlflow "$BIN/mlflow server --backend-store-uri $MLFLOW_BACKEND_URI --serve-artifacts \
    --artifacts-destination $STATE/mlflow-artifacts --host $HOST --port $MLFLOW_PORT --workers 2" "$MLFLOW_PORT"
  for w in worker1 worker2; do worker "$w"; done
  start daemon "$BIN/dagster-daemon run -m definitions" -
  start webserver "$BIN/dagster-webserver -m definitions -h $HOST -p $DAGSTER_PORT" "$DAGSTER_PORT"
  build
  start service "$BIN/bentoml serve bento.service:Moodtune --host $HOST --port $SERVICE_PORT" "$SERVICE_PORT"
  "$BIN/python" -m bento.wait "http://$HOST:$SERVICE_PORT/readyz" 300
  echo ""
  echo "Dagster UI:  http://$HOST:$DAGSTER_PORT   (daemon, webserver and 2 Celery workers; storage on PostgreSQL)"
  echo "MLflow UI:   http://$HOST:$MLFLOW_PORT   (tracking server on PostgreSQL, artifacts in $STATE/mlflow-artifacts)"
  echo "Service:     http://$HOST:$SERVICE_PORT/ui"
  echo "State in $STATE; logs in $LOGS; stop with 'make down-server'."
}

build() {
  # every asset but retraining, its steps run by the Celery workers; skipped when already built
  if [ -f "$STATE/.built" ] && [ "${FORCE:-0}" != 1 ]; then echo "build: already done ($STATE/.built)"; return; fi
  "$BIN/dagster" job execute -m definitions -j all_assets_job
  touch "$STATE/.built"
}

worker() {
  # one Celery worker named NAME@<host> (dagster-celery appends the host; concurrency
  # WORKER_CONCURRENCY, default 1) on the broker
  # of MOODTUNE_DAGSTER__CELERY_BROKER; steps it runs reach PostgreSQL, MLflow and the data dir
  # through this environment, so on another machine every URL must name the shared services
  local name=${1:?usage: server.sh worker NAME}
  mkdir -p "$STATE" "$LOGS"
  printf 'execution:\n  config:\n    broker: %s\n    backend: %s\n' \
    "$MOODTUNE_DAGSTER__CELERY_BROKER" "$MOODTUNE_DAGSTER__CELERY_BACKEND" > "$STATE/celery.yaml"
  start "$name" "$BIN/dagster-celery worker start -A dagster_celery.app -y $STATE/celery.yaml -n $name \
    -- --concurrency=${WORKER_CONCURRENCY:-1}" -
}

library() {
  # audio.music_dir in audio.library_shards shards: list them (adds a partition per non-empty
  # shard; a run whose step goes to a Celery worker), then a backfill of audio_library over every
  # partition through the webserver, which the daemon runs (one run per partition, its step on a
  # Celery worker); waits until it ends (BACKFILL_TIMEOUT seconds, default 3600)
  "$BIN/dagster" asset materialize -m definitions --select audio_library_shards
  "$BIN/python" scripts/backfill.py audio_library --url "http://$HOST:$DAGSTER_PORT" --wait \
    --timeout "${BACKFILL_TIMEOUT:-3600}"
}

down() {
  # the profile's processes, then any other worker started here (server.sh worker NAME)
  local extra=""
  for f in "$LOGS"/*.pid; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .pid)
    [[ " $PROCESSES " == *" $n "* ]] || extra="$extra $n"
  done
  for p in $extra $PROCESSES; do bash scripts/stop.sh "$p"; done
  # a machine that only runs workers has no cluster here (and maybe no PostgreSQL installed)
  if [ -f "$PG_DIR/PG_VERSION" ]; then bash scripts/postgres.sh stop "$PG_DIR" "$PG_PORT"; fi
}

case ${1:-} in
  up) up ;;
  down) down ;;
  build) build ;;
  library) library ;;
  worker) shift; worker "$@" ;;
  *) echo "usage: server.sh up|down|build|library|worker NAME" >&2; exit 2 ;;
esac
