#!/usr/bin/env bash
# stop.sh NAME: stop what start.sh started under NAME (the whole process group).
name=$1
pidfile=.logs/$name.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  kill -- -"$(cat "$pidfile")" 2>/dev/null || kill "$(cat "$pidfile")"
  echo "$name: stopped"
fi
rm -f "$pidfile"
