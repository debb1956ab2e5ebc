#!/usr/bin/env bash
# test.sh PYTEST_ARGS...: the suite as CI runs it. Unless MOODTUNE_TEST_POSTGRES_URL names a
# PostgreSQL already, a throwaway cluster is started in a temp dir on a free port (as the
# unprivileged user `postgres` when run as root: scripts/postgres.sh) and removed afterwards, so
# the feedback store's PostgreSQL tests run too and nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON_BIN:-.venv/bin/python}
if [ -z "${MOODTUNE_TEST_POSTGRES_URL:-}" ]; then
  if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    echo "make test needs PostgreSQL for the feedback store's tests: run 'sudo apt-get install postgresql' (make system-deps)" >&2
    exit 1
  fi
  pgdir=$(mktemp -d /tmp/moodtune-test-pg.XXXXXX)
  port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  trap 'bash scripts/postgres.sh stop "$pgdir" "$port" >/dev/null || true; rm -rf "$pgdir"' EXIT
  bash scripts/postgres.sh start "$pgdir" "$port"
  export MOODTUNE_TEST_POSTGRES_URL=$(bash scripts/postgres.sh url "$pgdir" "$port")
fi
# two xdist workers on two cores: each worker's (and each service's) native pools get one
# thread, so OpenMP/BLAS threads do not spin against the other worker (a small sklearn predict
# took 17 ms with its threads under such load, 0.9 ms with one: moodtune/threads.py)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
status=0
"$py" -m pytest "$@" || status=$?
exit $status
