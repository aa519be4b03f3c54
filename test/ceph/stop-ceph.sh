#!/usr/bin/env bash
# Stops the daemons that start-ceph.sh started from CEPH_DIR (by their pid files, so
# other Ceph processes on the machine are left alone) and removes the directory.
set -uo pipefail

CEPH_DIR=${CEPH_DIR:-/tmp/cairn-ceph}
[ -d "$CEPH_DIR/run" ] || exit 0

pids=()
for f in "$CEPH_DIR"/run/*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then pids+=("$pid"); fi
done
# Give them 10 s to exit cleanly, then force it.
for _ in $(seq 1 20); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.5
done
for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
rm -rf "$CEPH_DIR"
