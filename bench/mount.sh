#!/usr/bin/env bash
# Reading one 500 MB file: through the FUSE mount vs `cairn dump`, and `cairn dump` vs
# `restic dump` on the same data. Needs root (FUSE), restic and fuse3; builds dist/ first.
# Usage: bench/mount.sh [SIZE_MB]   (prints the times and the ratios)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-500}
for t in restic fusermount3 /usr/bin/time; do command -v "$t" >/dev/null || { echo "missing $t (Debian: restic, fuse3, time)" >&2; exit 1; }; done
npm run build
W=$(mktemp -d /tmp/cairn-bench-mount.XXXXXX)
MNT=$W/mnt
cleanup() {
  if [ -n "${MOUNT_PID:-}" ]; then kill -TERM "$MOUNT_PID" 2>/dev/null || true; wait "$MOUNT_PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/src" "$MNT"
# Incompressible data, so both tools decrypt and hash every byte.
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$W/src/big.bin"
export CAIRN_PASSWORD=bench RESTIC_PASSWORD=bench
CAIRN="node bin/cairn.js --repo $W/cairn-repo --cache-dir $W/cache"
$CAIRN init >/dev/null
$CAIRN backup "$W/src" >/dev/null
restic init --repo "$W/restic-repo" >/dev/null
restic backup --repo "$W/restic-repo" "$W/src" >/dev/null

seconds() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc -l; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

# A command's fixed cost (start-up, key derivation, index) is part of dump's time but not of
# a read from a mount that is already up: measured apart, to compare data rates too.
t_start=$(seconds sh -c "$CAIRN snapshots > /dev/null")
drop; t_cairn=$(seconds sh -c "$CAIRN dump latest $W/src/big.bin > /dev/null")
drop; t_restic=$(seconds sh -c "restic dump --repo $W/restic-repo latest $W/src/big.bin > /dev/null")

$CAIRN mount "$MNT" > "$W/mount.log" 2>&1 &
MOUNT_PID=$!
for _ in $(seq 100); do grep -q mounted "$W/mount.log" && break; sleep 0.1; done
drop; t_fuse=$(seconds cat "$MNT/snapshots/latest$W/src/big.bin")
cmp "$MNT/snapshots/latest$W/src/big.bin" "$W/src/big.bin"

rate() { echo "scale=1; $SIZE_MB / $1" | bc -l; }
printf 'file: %d MB\n' "$SIZE_MB"
printf 'cairn dump:       %6.2f s  %7s MB/s\n' "$t_cairn" "$(rate "$t_cairn")"
printf 'restic dump:      %6.2f s  %7s MB/s\n' "$t_restic" "$(rate "$t_restic")"
printf 'FUSE cat:         %6.2f s  %7s MB/s\n' "$t_fuse" "$(rate "$t_fuse")"
printf 'cairn start-up:   %6.2f s  (cairn snapshots)\n' "$t_start"
printf 'FUSE / cairn dump speed:   %.2fx (goal >= 0.75)\n' "$(echo "$t_cairn / $t_fuse" | bc -l)"
printf 'FUSE / cairn dump speed without dump start-up: %.2fx\n' "$(echo "($t_cairn - $t_start) / $t_fuse" | bc -l)"
printf 'cairn / restic dump speed: %.2fx (goal >= 1.0)\n' "$(echo "$t_restic / $t_cairn" | bc -l)"
