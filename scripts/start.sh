#!/usr/bin/env bash
# start.sh NAME "COMMAND" PORT: start COMMAND in the background unless NAME already runs,
# then wait until PORT answers (PORT "-": a process without a port, checked alive after 3 s).
# Logs go to $LOGS/NAME.log (LOGS defaults to .logs), the pid to $LOGS/NAME.pid.
set -euo pipefail
name=$1; cmd=$2; port=$3
LOGS=${LOGS:-.logs}
mkdir -p "$LOGS"
pidfile=$LOGS/$name.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "$name: already running (pid $(cat "$pidfile"))"
  exit 0
fi
setsid bash -c "exec $cmd" >"$LOGS/$name.log" 2>&1 < /dev/null &
echo $! > "$pidfile"
if [ "$port" = "-" ]; then
  sleep 3
  if kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "$name: running (pid $(cat "$pidfile"))"; exit 0; fi
  echo "$name: exited; last lines of $LOGS/$name.log:" >&2; tail -20 "$LOGS/$name.log" >&2; exit 1
fi
for _ in $(seq 1 180); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "$name: up on port $port (pid $(cat "$pidfile"))"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$name: exited; last lines of $LOGS/$name.log:" >&2
    tail -20 "$LOGS/$name.log" >&2
    exit 1
  fi
  sleep 1
done
echo "$name: not answering on port $port after 180 s; see $LOGS/$name.log" >&2
exit 1
