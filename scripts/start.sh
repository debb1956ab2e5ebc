#!/usr/bin/env bash
# start.sh NAME "COMMAND" PORT: start COMMAND in the background unless NAME already runs,
# then wait until PORT answers. Logs go to .logs/NAME.log, the pid to .logs/NAME.pid.
set -euo pipefail
name=$1; cmd=$2; port=$3
mkdir -p .logs
pidfile=.logs/$name.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  echo "$name: already running (pid $(cat "$pidfile"))"
  exit 0
fi
setsid bash -c "exec $cmd" >".logs/$name.log" 2>&1 < /dev/null &
echo $! > "$pidfile"
for _ in $(seq 1 180); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "$name: up on port $port (pid $(cat "$pidfile"))"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "$name: exited; last lines of .logs/$name.log:" >&2
    tail -20 ".logs/$name.log" >&2
    exit 1
  fi
  sleep 1
done
echo "$name: not answering on port $port after 180 s; see .logs/$name.log" >&2
exit 1
