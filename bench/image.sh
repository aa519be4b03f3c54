#!/usr/bin/env bash
# Disk-image benchmark, cairn against restic in one run on the same machine:
#  1. a 4 GiB ext4 image holding ~1.5 GiB of files: first backup, unchanged second
#     backup, image restore (wall time, and the ratio cairn/restic);
#  2. dump of a 10 MB file from inside the image snapshot;
#  3. dedup: back up a tree, then an ext4/FAT/NTFS image of the same tree; what the image
#     adds, as a share of what it costs in an empty repository (cairn and restic).
# Needs: restic, e2fsprogs, dosfstools, mtools, ntfs-3g (root + /dev/fuse for NTFS).
# Usage: bench/image.sh [WORKDIR]   (about 12 GiB free space; default /tmp/cairn-bench-image)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/cairn-bench-image}
rm -rf "$W" && mkdir -p "$W"
export PATH="$PATH:/usr/sbin:/sbin"
export CAIRN_PASSWORD=bench RESTIC_PASSWORD=bench
CAIRN="node $PWD/bin/cairn.js"
for t in restic mkfs.ext4 mkfs.fat mcopy mkntfs ntfs-3g; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }; done

now() { date +%s.%N; }
secs() { local s; s=$(now); "$@" >/dev/null 2>"$W/last.err" || { cat "$W/last.err" >&2; exit 1; }; echo "$(now) - $s" | bc; }
ratio() { echo "scale=2; $1 / $2" | bc; }
size() { du -sb "$1" | cut -f1; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

# A tree of incompressible files (like photos and binaries) with some text, ~SIZE MiB.
make_tree() { # DIR MiB SEED
  mkdir -p "$1"
  node -e '
    const fs = require("fs"), crypto = require("crypto"), path = require("path");
    const [dir, mib, seed] = [process.argv[1], +process.argv[2], process.argv[3]];
    let left = mib * 1048576, i = 0;
    const sizes = [20e6, 5e6, 1e6, 200e3, 30e3, 4e3];
    while (left > 0) {
      const sub = path.join(dir, `d${i % 17}`, `e${i % 5}`);
      fs.mkdirSync(sub, { recursive: true });
      const n = Math.min(left, sizes[i % sizes.length]);
      const key = crypto.createHash("sha256").update(seed + ":" + i).digest();
      const data = crypto.createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(n));
      fs.writeFileSync(path.join(sub, `f${i}.bin`), i % 7 === 0 ? Buffer.from(("line " + i + " of a log\n").repeat(n / 16 | 0)) : data);
      left -= n; i++;
    }' "$1" "$2" "$3"
}

echo "== building a 4 GiB ext4 image with ~1.5 GiB of files"
make_tree "$W/tree" 1536 big
truncate -s 4G "$W/ext4.img"
mkfs.ext4 -q -F -d "$W/tree" "$W/ext4.img"
dd if=/dev/urandom of="$W/tree10m" bs=1M count=10 status=none

$CAIRN --repo "$W/cairn" --cache-dir "$W/cache" init >/dev/null
restic init --repo "$W/restic" >/dev/null 2>&1

drop; c1=$(secs $CAIRN --repo "$W/cairn" --cache-dir "$W/cache" backup --image "$W/ext4.img")
drop; r1=$(secs restic --repo "$W/restic" --cache-dir "$W/rcache" backup "$W/ext4.img")
drop; c2=$(secs $CAIRN --repo "$W/cairn" --cache-dir "$W/cache" backup --image "$W/ext4.img")
drop; r2=$(secs restic --repo "$W/restic" --cache-dir "$W/rcache" backup "$W/ext4.img")
drop; c3=$(secs $CAIRN --repo "$W/cairn" --cache-dir "$W/cache" restore latest --image --target "$W/cairn-out.img")
drop; r3=$(secs restic --repo "$W/restic" --cache-dir "$W/rcache" restore latest --target "$W/restic-out")
cmp "$W/ext4.img" "$W/cairn-out.img" || { echo "cairn restore differs!" >&2; exit 1; }
big=$(find "$W/tree" -size +9M -size -11M -name '*.bin' | head -1); rel=${big#"$W/tree"}
drop; cd_=$(secs sh -c "$CAIRN --repo '$W/cairn' --cache-dir '$W/cache' dump latest /fs$rel > '$W/dumped'")
cmp "$big" "$W/dumped" || { echo "dump differs!" >&2; exit 1; }
rm -rf "$W/cairn-out.img" "$W/restic-out"

printf '%-28s %9s %9s %7s\n' "4 GiB ext4, 1.5 GiB files" cairn restic ratio
printf '%-28s %8.1fs %8.1fs %7s\n' "first image backup" "$c1" "$r1" "$(ratio "$c1" "$r1")"
printf '%-28s %8.1fs %8.1fs %7s\n' "second, unchanged" "$c2" "$r2" "$(ratio "$c2" "$r2")"
printf '%-28s %8.1fs %8.1fs %7s\n' "image restore" "$c3" "$r3" "$(ratio "$c3" "$r3")"
printf '%-28s %8.1fs\n' "dump of a ~10 MB file" "$cd_"
printf '%-28s %9s %9s\n' "repository size" "$(size "$W/cairn")" "$(size "$W/restic")"
rm -rf "$W/ext4.img" "$W/cairn" "$W/restic" "$W/cache" "$W/rcache" "$W/tree"

echo "== dedup: an image of a tree already backed up"
make_tree "$W/small" 200 small
truncate -s 512M "$W/d-ext4.img"; mkfs.ext4 -q -F -d "$W/small" "$W/d-ext4.img"
truncate -s 512M "$W/d-fat.img"; mkfs.fat -F 32 "$W/d-fat.img" >/dev/null; mcopy -s -i "$W/d-fat.img" "$W"/small/* ::/
truncate -s 512M "$W/d-ntfs.img"; mkntfs -F -Q "$W/d-ntfs.img" >/dev/null 2>&1
mkdir -p "$W/mnt"; ntfs-3g "$W/d-ntfs.img" "$W/mnt"; cp -r "$W/small/." "$W/mnt/"; umount "$W/mnt"
printf '%-6s %14s %14s\n' fs cairn restic
for fs in ext4 fat ntfs; do
  img="$W/d-$fs.img"
  rm -rf "$W/ca" "$W/cb" "$W/ra" "$W/rb"
  $CAIRN --repo "$W/ca" --cache-dir "$W/cache" init >/dev/null; $CAIRN --repo "$W/cb" --cache-dir "$W/cache" init >/dev/null
  restic init --repo "$W/ra" >/dev/null 2>&1; restic init --repo "$W/rb" >/dev/null 2>&1
  $CAIRN --repo "$W/ca" --cache-dir "$W/cache" backup "$W/small" >/dev/null
  restic --repo "$W/ra" --cache-dir "$W/rcache" backup "$W/small" >/dev/null 2>&1
  ca0=$(size "$W/ca"); ra0=$(size "$W/ra")
  $CAIRN --repo "$W/ca" --cache-dir "$W/cache" backup --image "$img" >/dev/null
  restic --repo "$W/ra" --cache-dir "$W/rcache" backup "$img" >/dev/null 2>&1
  cb0=$(size "$W/cb"); rb0=$(size "$W/rb")
  $CAIRN --repo "$W/cb" --cache-dir "$W/cache" backup --image "$img" >/dev/null
  restic --repo "$W/rb" --cache-dir "$W/rcache" backup "$img" >/dev/null 2>&1
  cpct=$(echo "scale=2; 100 * ($(size "$W/ca") - $ca0) / ($(size "$W/cb") - $cb0)" | bc)
  rpct=$(echo "scale=2; 100 * ($(size "$W/ra") - $ra0) / ($(size "$W/rb") - $rb0)" | bc)
  printf '%-6s %13s%% %13s%%\n' "$fs" "$cpct" "$rpct"
done
rm -rf "$W"
