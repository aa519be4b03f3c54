#!/usr/bin/env bash
# Reading a whole snapshot of many files through the FUSE mount: cairn mount against
# restic mount, on the ~1.5 GiB /usr dataset of bench/files.sh (62k files). Each tool
# backs the dataset up into a fresh repository, mounts it, and `tar` reads every file of
# the latest snapshot, one after another, as a copy of a directory out of a mount would.
# Prints the times, the ratio cairn/restic, and each mount's RSS when the read is done.
#
# Usage: bench/mount-tree.sh   (as root, after `npm ci`; needs restic, fuse3 and tar)
# Environment:
#   BENCH_DATA    dataset cache (default /var/tmp/cairn-bench-data; shared with files.sh)
#   BENCH_DIR     repositories and mount points (default /var/tmp/cairn-bench-mount-tree; wiped)
#   BENCH_BYTES   dataset size to aim for when it must be built (default 1.5 GiB)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
data=${BENCH_DATA:-/var/tmp/cairn-bench-data}
work=${BENCH_DIR:-/var/tmp/cairn-bench-mount-tree}
target_bytes=${BENCH_BYTES:-$((3 * 1024 * 1024 * 1024 / 2))}
# shellcheck source=bench/dataset.sh
source "$here/bench/dataset.sh"

for t in restic fusermount3 tar bc; do command -v "$t" >/dev/null || { echo "missing $t (Debian: restic, fuse3, tar, bc)" >&2; exit 1; }; done
(cd "$here" && npm run build >/dev/null)
ensure_dataset

export CAIRN_PASSWORD=bench-password-not-secret RESTIC_PASSWORD=bench-password-not-secret
export RESTIC_CACHE_DIR=$work/restic-cache
mount_pid=
cleanup() {
  if [ -n "$mount_pid" ]; then kill -INT "$mount_pid" 2>/dev/null || true; wait "$mount_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work/cairn-mnt" "$work/restic-mnt"
cairn=(node "$here/bin/cairn.js" --repo "$work/cairn-repo" --cache-dir "$work/cairn-cache" -q)
restic=(restic --repo "$work/restic-repo" -q)
"${cairn[@]}" init >/dev/null
"${cairn[@]}" backup "$src" >/dev/null
"${restic[@]}" init --repository-version 2 >/dev/null
"${restic[@]}" backup "$src" >/dev/null

# read_tree TOOL MOUNTPOINT: mounts, times a tar of every file of the latest snapshot, and
# prints "seconds bytes rss_mib".
read_tree() {
  local -n tool_cmd=$1
  local mnt=$2 start end bytes rss
  "${tool_cmd[@]}" mount "$mnt" > "$work/$1-mount.log" 2>&1 &
  mount_pid=$!
  for _ in $(seq 300); do [ -d "$mnt/snapshots/latest" ] && break; sleep 0.1; done
  [ -d "$mnt/snapshots/latest" ] || { echo "the $1 mount did not come up: $(cat "$work/$1-mount.log")" >&2; exit 1; }
  sync; echo 3 > /proc/sys/vm/drop_caches
  start=$(date +%s.%N)
  bytes=$(tar cf - -C "$mnt/snapshots/latest" . | wc -c)
  end=$(date +%s.%N)
  rss=$(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$mount_pid/status")
  kill -INT "$mount_pid"; wait "$mount_pid" || true
  mount_pid=
  echo "$(echo "$end - $start" | bc -l) $bytes $rss"
}

# Not in a subshell: a failed read must leave mount_pid for the cleanup.
read_tree cairn "$work/cairn-mnt" > "$work/cairn.result"
read_tree restic "$work/restic-mnt" > "$work/restic.result"
read -r c_s c_bytes c_rss < "$work/cairn.result"
read -r r_s r_bytes r_rss < "$work/restic.result"
# The archives differ a little in size: cairn's mount gives hard links one inode, so tar
# stores their data once, and restic's does not.
read -r files bytes < <(file_totals "$src")
printf 'dataset: %d files, %d MiB; tar of the mounted latest snapshot\n' "$files" $((bytes / 1048576))
printf '| tool | seconds | tar bytes | mount RSS MiB |\n|---|---:|---:|---:|\n'
printf '| cairn | %.2f | %d | %d |\n' "$c_s" "$c_bytes" "$c_rss"
printf '| restic | %.2f | %d | %d |\n' "$r_s" "$r_bytes" "$r_rss"
printf 'cairn/restic time: %.2f\n' "$(echo "$c_s / $r_s" | bc -l)"
