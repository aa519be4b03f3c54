# Sourced by bench/files.sh and bench/s3.sh: the shared ~1.5 GiB /usr dataset and helpers.
# Expects: data (dataset cache dir), target_bytes, work, and measure. Defines: src,
# build_dataset, ensure_dataset, file_totals, step, restore_checked (sets restore_note),
# restore_rounds, remove_restores, cold (sets cache_note).

src=$data/usr
# Bulky directories of many small files first, then a few large binaries to reach the size.
candidates=(/usr/share /usr/include /usr/lib/python3 /usr/bin /usr/lib/llvm-14 /usr/lib/gcc /usr/lib/x86_64-linux-gnu /usr/lib/jvm)

build_dataset() {
  echo "building the dataset in $src (once; later runs reuse it)" >&2
  rm -rf "$src.partial"
  mkdir -p "$src.partial"
  local have=0 d
  for d in "${candidates[@]}"; do
    [ -d "$d" ] || continue
    (( have < target_bytes )) || break
    mkdir -p "$src.partial$(dirname "$d")"
    cp -a "$d" "$src.partial$(dirname "$d")/"
    have=$(du -sb "$src.partial" | cut -f1)
    echo "  + $d: $((have / 1048576)) MiB" >&2
  done
  mv "$src.partial" "$src"
}

ensure_dataset() { [ -d "$src" ] || build_dataset; }

# Regular files and their bytes (du counts directory sizes, which differ between copies).
file_totals() { find "$1" -type f -printf '%s\n' | awk '{ n++; b += $1 } END { print n, b }'; }

# step TOOL STEP ARGS...: `measure` of TOOL's own command (the array named TOOL: cairn or
# restic) with ARGS; both tools take the same arguments for backup and restore.
step() {
  local -n tool_cmd=$1
  measure "$1" "$2" "${tool_cmd[@]}" "${@:3}"
}

# restore_checked TOOL EXPECTED [STEP]: a timed full restore of the latest snapshot, then
# (not timed) a check that it holds EXPECTED files and bytes (`file_totals` of the source).
# STEP (default restore) names the measurement, so that repeated restores keep theirs.
# Each tool restores into a new, empty ext4 file system of its own (a loop-mounted image)
# where this may mount one. On ext4, creating files within minutes of deleting many costs
# several times the system time (the inode allocator skips recently deleted inodes), so
# on a shared file system a tool's restore was slower after any run that had just
# deleted its restores: another bench, or the other tool's restore. The loop device
# writes to its image with direct I/O, as a disk would: through the page cache a second
# time, its writeback stalled writers for seconds (restores of both tools took 1.2-1.7
# times as long, cairn's more, as its workers own files and one stalled all).
restore_checked() {
  local dir="$work/restore-$1"
  rm -rf "$dir" && mkdir -p "$dir"
  local bytes
  read -r _ bytes <<<"$2"
  fresh_file_system "$dir" $((bytes * 2))
  step "$1" "${3:-restore}" restore latest --target "$dir"
  local got
  got=$(file_totals "$dir$src")
  [ "$got" = "$2" ] || die "$1 restored $got (files, bytes), the source has $2"
}

restore_note="each tool restores into a new ext4 file system of its own (loop device, direct I/O)"
# restore_rounds EXPECTED FIELD... : BENCH_ROUNDS (default 3) rounds of restore_checked for
# each tool of $tools, the tools taking turns to go first (RESTORE_ORDER sets the first
# round's order). Each round is step restoreN; step restore gets the median of the rounds
# for each named measurement array (wall, rss, cpu). One restore on a shared two-core
# machine moves by about 10% from run to run.
rounds=${BENCH_ROUNDS:-3}
restore_rounds() {
  local expected=$1 order=${RESTORE_ORDER:-$tools} r tool field
  shift
  for ((r = 1; r <= rounds; r++)); do
    for tool in $order; do restore_checked "$tool" "$expected" "restore$r"; done
    # Each round restores into new file systems.
    remove_restores
    order=$(echo "$order" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "\n") }')
  done
  for tool in $tools; do
    for field in "$@"; do
      local -n values=$field
      values[$tool.restore]=$(for ((r = 1; r <= rounds; r++)); do echo "${values[$tool.restore$r]}"; done |
        sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
      unset -n values
    done
  done
}

# fresh_file_system DIR BYTES: mounts a new ext4 file system of BYTES on DIR.
fresh_file_system() {
  local image="$1.img"
  if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null && truncate -s "$2" "$image" &&
    mkfs.ext4 -q -F "$image" && mount -o loop "$image" "$1" 2>/dev/null; then
    losetup --direct-io=on "$(findmnt -n -o SOURCE "$1")" ||
      restore_note="each tool restores into a new ext4 file system of its own (loop device; direct I/O refused, so writeback may stall writers)"
    return
  fi
  rm -f "$image"
  restore_note="restores went to directories of the file system under $work (no loop mount here), so their times depend on what was deleted there before"
}

# Unmounts and deletes every restore (call it on exit too: a loop mount outlives the script).
remove_restores() {
  local d
  for d in "$work"/restore-*; do
    [ -d "$d" ] && mountpoint -q "$d" && umount "$d"
  done
  rm -rf "$work"/restore-*
}

cache_note="page cache dropped before every step"
cold() {
  sync
  if ! { echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null; then
    # Not permitted: read the source once so both tools start equally warm.
    cache_note="page cache could not be dropped; the source was read once before every step so both tools start warm"
    tar -cf - "$src" 2>/dev/null | cat >/dev/null
  fi
}
