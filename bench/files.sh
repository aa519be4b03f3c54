#!/usr/bin/env bash
# cairn against restic on a ~1.5 GiB copy of parts of /usr: first backup, unchanged
# backup, backup after changing 2% of the files, full restore, dump as tar, copy into a
# new repository. Prints wall time, peak RSS and repository size per step and tool, and the
# ratio cairn/restic, as markdown.
#
# Usage: bench/files.sh            (after `npm ci`; needs restic and GNU time, see README)
# Environment:
#   BENCH_DATA   dataset cache (default /var/tmp/cairn-bench-data; reused by later runs)
#   BENCH_DIR    repositories, caches and restores (default /var/tmp/cairn-bench-run; wiped)
#   BENCH_BYTES  dataset size to aim for (default 1.5 GiB)
#   BENCH_TOOLS  "cairn restic" (default), or one of them
#   BENCH_ROUNDS full restores per tool (default 3), the tools taking turns to go first; the
#                restore row is the median of the rounds (the others run once each)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
data=${BENCH_DATA:-/var/tmp/cairn-bench-data}
work=${BENCH_DIR:-/var/tmp/cairn-bench-run}
target_bytes=${BENCH_BYTES:-$((3 * 1024 * 1024 * 1024 / 2))}
tools=${BENCH_TOOLS:-cairn restic}
password=bench-password-not-secret

die() { echo "files.sh: $*" >&2; exit 1; }
command -v restic >/dev/null || [[ $tools != *restic* ]] || die "restic is missing: apt-get install -y restic"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing: apt-get install -y time"
[ -f "$here/dist/cmd/main.js" ] || die "cairn is not built: run npm ci (or npm run build) in $here"

# ---- dataset ----------------------------------------------------------------------------

# shellcheck source=bench/dataset.sh
source "$here/bench/dataset.sh"

# Step (c) appends to every 50th file; the original sizes are kept so that a later run (or
# one interrupted after the change) can cut the files back to their original content.
changes=$data/changed-files
restore_dataset() {
  [ -f "$changes" ] || return 0
  while IFS=$'\t' read -r size f; do truncate -s "$size" "$f"; done <"$changes"
  rm -f "$changes"
}

change_files() {
  find "$src" -type f -printf '%s\t%p\n' | LC_ALL=C sort -t $'\t' -k2 | awk 'NR % 50 == 0' >"$changes.new"
  mv "$changes.new" "$changes"
  local i=0
  while IFS=$'\t' read -r _ f; do
    printf 'cairn bench change %d\n' "$i" >>"$f"
    i=$((i + 1))
  done <"$changes"
  echo "$i"
}

ensure_dataset
restore_dataset
files=$(find "$src" -type f | wc -l)
bytes=$(du -sb "$src" | cut -f1)

# ---- measuring ----------------------------------------------------------------------------

[ -d "$work" ] && remove_restores
rm -rf "$work"
mkdir -p "$work"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
export CAIRN_PASSWORD=$password RESTIC_PASSWORD=$password
export RESTIC_CACHE_DIR=$work/restic-cache
cairn_repo=$work/cairn-repo
restic_repo=$work/restic-repo
cairn=(node "$here/bin/cairn.js" --repo "$cairn_repo" --cache-dir "$work/cairn-cache" --quiet)
restic=(restic --repo "$restic_repo" --quiet)

declare -A wall rss size
# measure TOOL STEP CMD... : runs CMD under GNU time and records wall seconds and peak RSS.
measure() {
  local tool=$1 step=$2
  shift 2
  cold
  local out=$work/time.$tool.$step
  if ! /usr/bin/time -f '%e %M' -o "$out" "$@" >"$work/log.$tool.$step" 2>&1; then
    cat "$work/log.$tool.$step" >&2
    die "$tool failed at step $step"
  fi
  read -r wall[$tool.$step] rss[$tool.$step] <"$out"
  local repo=$cairn_repo
  [ "$tool" = restic ] && repo=$restic_repo
  size[$tool.$step]=$(du -sb "$repo" | cut -f1)
  echo "  $tool $step: ${wall[$tool.$step]} s, $((rss[$tool.$step] / 1024)) MiB RSS" >&2
}

has() { [[ " $tools " == *" $1 "* ]]; }

has cairn && "${cairn[@]}" init >/dev/null
has restic && "${restic[@]}" init --repository-version 2 >/dev/null

steps=(first unchanged changed restore dump copy)
for tool in $tools; do step "$tool" first backup "$src"; done
for tool in $tools; do step "$tool" unchanged backup "$src"; done
changed=$(change_files)
trap 'remove_restores; restore_dataset' EXIT
for tool in $tools; do step "$tool" changed backup "$src"; done
expected=$(file_totals "$src")
restore_rounds "$expected" wall rss size
remove_restores
restore_dataset

# dump: the whole tree as a tar archive, to /dev/null (both tools write pax tar).
has cairn && measure cairn dump sh -c '"$@" dump latest "$0" >/dev/null' "$src" "${cairn[@]}"
has restic && measure restic dump sh -c '"$@" dump latest "$0" >/dev/null' "$src" "${restic[@]}"

# copy: every snapshot into a new repository made to share the chunker (and, for cairn,
# the blob ids), as for a copy offsite. Its size column is the new repository's.
export CAIRN_FROM_PASSWORD=$password RESTIC_FROM_PASSWORD=$password
if has cairn; then
  node "$here/bin/cairn.js" --repo "$cairn_repo-copy" --cache-dir "$work/cairn-cache" --quiet init --from-repo "$cairn_repo" >/dev/null
  measure cairn copy node "$here/bin/cairn.js" --repo "$cairn_repo-copy" --cache-dir "$work/cairn-cache" --quiet copy --from-repo "$cairn_repo"
  size[cairn.copy]=$(du -sb "$cairn_repo-copy" | cut -f1)
fi
if has restic; then
  restic --repo "$restic_repo-copy" --quiet init --repository-version 2 --from-repo "$restic_repo" --copy-chunker-params >/dev/null
  measure restic copy restic --repo "$restic_repo-copy" --quiet copy --from-repo "$restic_repo"
  size[restic.copy]=$(du -sb "$restic_repo-copy" | cut -f1)
fi

# ---- report -------------------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
round_walls() { local r out=(); for ((r = 1; r <= rounds; r++)); do out+=("${wall[$1.restore$r]}"); done; echo "${out[*]}" | sed 's| | / |g'; }
mibb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }

echo
echo "Dataset: $files files, $(mibb "$bytes") MiB (parts of /usr); step (c) changed $changed files."
echo "Load average before / after the run: $load_before / $(cut -d' ' -f1-3 /proc/loadavg) (other processes on the machine skew the times)."
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; $(restic version 2>/dev/null | cut -d' ' -f1-2); node $(node --version). ${cache_note^}; ${restore_note}."
echo
if has cairn && has restic; then
  echo "| step | cairn s | restic s | ratio (≤ 0.75) | cairn RSS MiB | restic RSS MiB | ratio (≤ 1.5) | cairn repo MiB | restic repo MiB | ratio (≤ 1.05) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in "${steps[@]}"; do
    echo "| $s | ${wall[cairn.$s]} | ${wall[restic.$s]} | $(ratio "${wall[cairn.$s]}" "${wall[restic.$s]}") |" \
      "$(mib "${rss[cairn.$s]}") | $(mib "${rss[restic.$s]}") | $(ratio "${rss[cairn.$s]}" "${rss[restic.$s]}") |" \
      "$(mibb "${size[cairn.$s]}") | $(mibb "${size[restic.$s]}") | $(ratio "${size[cairn.$s]}" "${size[restic.$s]}") |"
  done
  echo
  echo "Restores, round by round: cairn $(round_walls cairn) s; restic $(round_walls restic) s."
else
  echo "| step | $tools s | RSS MiB | repo MiB |"
  echo "|---|---:|---:|---:|"
  for s in "${steps[@]}"; do
    echo "| $s | ${wall[$tools.$s]} | $(mib "${rss[$tools.$s]}") | $(mibb "${size[$tools.$s]}") |"
  done
fi
