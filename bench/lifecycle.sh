#!/usr/bin/env bash
# forget --keep-daily 7 --prune and check --read-data: cairn against restic on the same data,
# DAYS daily snapshots of a tree with 2% of its files rewritten each day.
# The tree (TREE): `usr` (default), a copy of the ~1.5 GiB /usr dataset of bench/files.sh
# (62k files; BENCH_DATA as there); `synthetic`, SIZE_MB of files of 64 KiB to 8 MiB.
# Needs restic; builds dist/ first.
# Usage: [TREE=usr|synthetic] bench/lifecycle.sh [SIZE_MB] [DAYS]   (defaults 1536 and 30)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${1:-1536}
DAYS=${2:-30}
command -v restic >/dev/null || { echo "missing restic (Debian: restic)" >&2; exit 1; }
npm run build
W=$(mktemp -d /tmp/cairn-bench-lifecycle.XXXXXX)
[ -n "${KEEP:-}" ] && echo "keeping $W" || trap 'rm -rf "$W"' EXIT
export CAIRN_PASSWORD=bench RESTIC_PASSWORD=bench
CAIRN="node bin/cairn.js --repo $W/cairn-repo --cache-dir $W/cache -q"
RESTIC="restic --repo $W/restic-repo -q"
$CAIRN init >/dev/null
$RESTIC init >/dev/null

TREE=${TREE:-usr}
if [ "$TREE" = usr ]; then
  data=${BENCH_DATA:-/var/tmp/cairn-bench-data}
  target_bytes=$((SIZE_MB * 1024 * 1024))
  # shellcheck source=bench/dataset.sh
  source bench/dataset.sh
  ensure_dataset
  cp -a "$src" "$W/src"
else
# Files of 64 KiB to 8 MiB, half random and half compressible text.
node --input-type=module - "$W/src" "$SIZE_MB" <<'JS'
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
const [dir, mb] = process.argv.slice(2);
let left = Number(mb) * 1024 * 1024, i = 0;
while (left > 0) {
  const size = Math.min(left, 65536 * 2 ** (i % 8));
  const d = `${dir}/d${i % 40}`;
  mkdirSync(d, { recursive: true });
  const buf = Buffer.alloc(size);
  if (i % 2) randomFillSync(buf); else buf.fill(`line ${i} of some text that compresses\n`);
  writeFileSync(`${d}/f${i}`, buf);
  left -= size; i++;
}
JS
fi
# Each "day" rewrites 2% of the regular files (by count), chosen at random, with random
# bytes of the same size, so old snapshots hold data only they use.
change() {
  node --input-type=module - "$W/src" <<'JS'
import { readdirSync, writeFileSync, statSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import path from 'node:path';
const [dir] = process.argv.slice(2);
const files = readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name));
for (const f of files) if (Math.random() < 0.02) writeFileSync(f, randomFillSync(Buffer.alloc(statSync(f).size)));
JS
}
for day in $(seq 1 "$DAYS"); do
  t=$(date -d "2024-01-01 + $day days" '+%Y-%m-%d 12:00:00')
  $CAIRN backup --time "$t" "$W/src" >/dev/null
  $RESTIC backup --time "$t" "$W/src" >/dev/null
  change
done

seconds() { local s; s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc -l; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

drop; c_prune=$(seconds $CAIRN forget --keep-daily 7 --prune)
drop; r_prune=$(seconds $RESTIC forget --keep-daily 7 --prune)
drop; c_check=$(seconds $CAIRN check --read-data)
drop; r_check=$(seconds $RESTIC check --read-data)
printf 'data: %s (%s files, %s MiB), %d daily snapshots, 2%% of files changed per day\n' "$TREE" "$(find "$W/src" -type f | wc -l)" "$(( $(du -sb "$W/src" | cut -f1) / 1048576 ))" "$DAYS"
printf 'repository size: cairn %s, restic %s\n' "$(du -sh "$W/cairn-repo" | cut -f1)" "$(du -sh "$W/restic-repo" | cut -f1)"
printf 'forget --keep-daily 7 --prune:  cairn %6.2f s  restic %6.2f s  ratio %.2f (goal <= 0.75)\n' "$c_prune" "$r_prune" "$(echo "$c_prune / $r_prune" | bc -l)"
printf 'check --read-data:              cairn %6.2f s  restic %6.2f s  ratio %.2f (goal <= 0.75)\n' "$c_check" "$r_check" "$(echo "$c_check / $r_check" | bc -l)"
