#!/usr/bin/env bash
# cairn against restic on S3: backup and restore of the ~1.5 GiB /usr tree (the dataset of
# bench/files.sh) to a local Ceph RGW, both tools in the same run against the same server.
# Prints wall times and the ratio cairn/restic (target ≤ 0.75) as markdown.
#
# Usage: bench/s3.sh            (as root, after `npm ci`; needs restic, GNU time and the Ceph
#                                packages of .ci/packages.txt)
# Environment:
#   BENCH_DATA          dataset cache (default /var/tmp/cairn-bench-data; shared with files.sh)
#   BENCH_DIR           caches and restores (default /var/tmp/cairn-bench-s3; wiped)
#   BENCH_BYTES         dataset size to aim for when it must be built (default 1.5 GiB)
#   BENCH_CONNECTIONS   connections for both tools (default 5, the default of both)
#   RESTORE_ORDER       which tool restores first in the first round (default "cairn restic")
#   BENCH_ROUNDS        full restores per tool (default 3), alternating which goes first; the
#                       ratio is that of the medians, as one pair of restores on a shared
#                       two-core machine moves by ±10% from run to run
#   CEPH_DIR, CEPH_RGW_PORT, CEPH_MON_PORT, CEPH_MEMSTORE_BYTES
#                       the Ceph this bench starts (default /tmp/cairn-ceph-bench, 7490, 3310,
#                       8 GiB: both repositories live in the OSD's memory), see start-ceph.sh
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
data=${BENCH_DATA:-/var/tmp/cairn-bench-data}
work=${BENCH_DIR:-/var/tmp/cairn-bench-s3}
target_bytes=${BENCH_BYTES:-$((3 * 1024 * 1024 * 1024 / 2))}
connections=${BENCH_CONNECTIONS:-5}
tools="cairn restic"
password=bench-password-not-secret
export CEPH_DIR=${CEPH_DIR:-/tmp/cairn-ceph-bench}
export CEPH_RGW_PORT=${CEPH_RGW_PORT:-7490}
export CEPH_MON_PORT=${CEPH_MON_PORT:-3310}
export CEPH_MEMSTORE_BYTES=${CEPH_MEMSTORE_BYTES:-$((8 * 1024 * 1024 * 1024))}

die() { echo "s3.sh: $*" >&2; exit 1; }
command -v restic >/dev/null || die "restic is missing: apt-get install -y restic"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing: apt-get install -y time"
[ -f "$here/dist/cmd/main.js" ] || die "cairn is not built: run npm ci (or npm run build) in $here"

# shellcheck source=bench/dataset.sh
source "$here/bench/dataset.sh"
ensure_dataset
source_totals=$(file_totals "$src")

eval "$(bash "$here/test/ceph/start-ceph.sh" | sed 's/^/export /')"
endpoint=$CAIRN_TEST_S3_ENDPOINT
suffix=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
cairn_bucket=cairn-bench-$suffix
restic_bucket=restic-bench-$suffix
# Ceph holds both repositories in memory and keeps using CPU: it goes when the bench ends,
# so that it cannot skew the benchmarks run after this one.
trap 'remove_restores; bash "$here/test/ceph/stop-ceph.sh"' EXIT

[ -d "$work" ] && remove_restores
rm -rf "$work"
mkdir -p "$work"
export CAIRN_PASSWORD=$password RESTIC_PASSWORD=$password
export RESTIC_CACHE_DIR=$work/restic-cache
cairn=(node "$here/bin/cairn.js" --repo "s3:$endpoint/$cairn_bucket/repo" --cache-dir "$work/cairn-cache" --connections "$connections" --quiet)
restic=(restic --repo "s3:$endpoint/$restic_bucket/repo" -o "s3.connections=$connections" --quiet)

declare -A wall cpu
# measure TOOL STEP CMD... : wall seconds, and CPU seconds (user + system) of the tool.
measure() {
  local tool=$1 step=$2
  shift 2
  cold
  if ! /usr/bin/time -f '%e %U %S' -o "$work/time.$tool.$step" "$@" >"$work/log.$tool.$step" 2>&1; then
    cat "$work/log.$tool.$step" >&2
    die "$tool failed at step $step"
  fi
  local user sys
  read -r wall[$tool.$step] user sys <"$work/time.$tool.$step"
  cpu[$tool.$step]=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
  echo "  $tool $step: ${wall[$tool.$step]} s, CPU ${cpu[$tool.$step]} s" >&2
}

"${cairn[@]}" init >/dev/null
"${restic[@]}" init --repository-version 2 >/dev/null
for tool in $tools; do step "$tool" backup backup "$src"; done
restore_rounds "$source_totals" wall cpu

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
read -r files bytes <<<"$source_totals"
echo
echo "Dataset: $files files, $((bytes / 1048576)) MiB (parts of /usr). S3: Ceph RGW (memstore) at $endpoint, $connections connections for both tools."
echo "Machine: $(nproc) cores; $(restic version | cut -d' ' -f1-2); node $(node --version). ${cache_note^}; ${restore_note}."
echo
echo "| step | cairn s | restic s | cairn/restic (≤ 0.75) | cairn CPU s | restic CPU s |"
echo "|---|---:|---:|---:|---:|---:|"
row() { echo "| $1 | ${wall[cairn.$2]} | ${wall[restic.$2]} | $(ratio "${wall[cairn.$2]}" "${wall[restic.$2]}") | ${cpu[cairn.$2]} | ${cpu[restic.$2]} |"; }
row backup backup
for ((r = 1; r <= rounds; r++)); do row "restore, round $r" "restore$r"; done
row "restore, median of $rounds" restore
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews both tools)."
