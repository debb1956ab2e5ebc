#!/usr/bin/env bash
# stop.sh NAME: stop what start.sh started under NAME (the whole process group): SIGTERM, then
# SIGKILL for whatever is still running after 15 s (dagster dev's children can outlive a TERM).
name=$1
pidfile=${LOGS:-.logs}/$name.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  pgid=$(cat "$pidfile")
  kill -- -"$pgid" 2>/dev/null || kill "$pgid"
  for _ in $(seq 30); do
    pgrep -g "$pgid" >/dev/null || break
    sleep 0.5
  done
  if pgrep -g "$pgid" >/dev/null; then
    kill -KILL -- -"$pgid" 2>/dev/null
    echo "$name: stopped (killed what ignored SIGTERM)"
  else
    echo "$name: stopped"
  fi
fi
rm -f "$pidfile"
