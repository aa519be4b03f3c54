import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, writeSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeExt } from '../../disk/ext.js';
import { openFileSource } from '../../disk/file-source.js';
import { readPartitionTable, type Partition } from '../../disk/partitions.js';
import { sliceSource } from '../../disk/slice.js';
import { memorySource, run, tempDir } from './tools.js';

const tmp = tempDir('cairn-part-');
after(() => tmp.cleanup());

const MBR_SCRIPT = `label: dos
unit: sectors

start=2048, size=16384, type=83
start=18432, size=8192, type=c
start=26624, type=5
size=20480, type=83
size=16384, type=82
`;

const GPT_SCRIPT = `label: gpt

start=2048, size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="linux data"
size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system"
size=20480, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="ünïcode ✓"
`;

function diskWithTable(name: string, script: string): string {
  const img = join(tmp.path, name);
  run('truncate', ['-s', '64M', img], 'coreutils');
  run('sfdisk', ['-q', img], 'fdisk', script);
  return img;
}

/** What sfdisk itself reads back, in our terms. */
function sfdiskView(img: string): Partition[] {
  const table = JSON.parse(run('sfdisk', ['--json', img], 'fdisk')).partitiontable;
  return table.partitions.map((p: { node: string; start: number; size: number; type: string; name?: string }) => {
    const out: Partition = {
      number: Number(/(\d+)$/.exec(p.node)![1]),
      start: p.start * table.sectorsize,
      size: p.size * table.sectorsize,
      type: table.label === 'dos' ? '0x' + p.type.padStart(2, '0') : p.type.toLowerCase(),
    };
    if (table.label === 'gpt') out.name = p.name ?? '';
    return out;
  });
}

/** Writes an ext4 file system holding one file into the partition, like `dd conv=notrunc`. */
function putExt4(img: string, part: Partition, content: string): void {
  const src = join(tmp.path, `tree-${part.number}`);
  mkdirSync(src);
  writeFileSync(join(src, 'hello.txt'), content);
  const fsImg = join(tmp.path, `fs-${part.number}.ext4`);
  run('truncate', ['-s', String(part.size), fsImg], 'coreutils');
  run('mkfs.ext4', ['-q', '-F', '-b', '1024', '-d', src, fsImg], 'e2fsprogs');
  const fd = openSync(img, 'r+');
  try {
    writeSync(fd, readFileSync(fsImg), 0, part.size, part.start);
  } finally {
    closeSync(fd);
  }
}

async function readHello(img: string, part: Partition): Promise<string> {
  const source = await openFileSource(img);
  try {
    const fs = await probeExt(sliceSource(source, part.start, part.size));
    assert.ok(fs, 'ext4 inside the partition');
    const [file] = (await fs.list(fs.root())).filter((n) => Buffer.from(n.name).toString() === 'hello.txt');
    return Buffer.from(await fs.readFile(file, 0, file.size)).toString();
  } finally {
    await source.close();
  }
}

function corrupt(img: string, offset: number, bytes: number[]): void {
  const fd = openSync(img, 'r+');
  try {
    writeSync(fd, Buffer.from(bytes), 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

async function table(img: string) {
  const source = await openFileSource(img);
  const warnings: string[] = [];
  try {
    return { ...(await readPartitionTable(source, { onWarning: (m) => warnings.push(m) })), warnings };
  } finally {
    await source.close();
  }
}

describe('MBR', () => {
  let img: string;
  before(() => {
    img = diskWithTable('mbr.img', MBR_SCRIPT);
  });

  it('reads primary, extended and logical partitions as sfdisk does', async () => {
    const t = await table(img);
    assert.equal(t.scheme, 'mbr');
    assert.deepEqual(t.partitions, sfdiskView(img));
    assert.deepEqual(t.partitions.map((p) => p.number), [1, 2, 3, 5, 6]);
    assert.deepEqual(t.warnings, []);
  });

  it('reads an ext4 file system inside a logical partition through sliceSource', async () => {
    const p5 = (await table(img)).partitions.find((p) => p.number === 5)!;
    putExt4(img, p5, 'inside logical partition 5\n');
    assert.equal(await readHello(img, p5), 'inside logical partition 5\n');
  });
});

describe('GPT', () => {
  let img: string;
  before(() => {
    img = diskWithTable('gpt.img', GPT_SCRIPT);
  });

  it('reads entries with type GUIDs and names as sfdisk does', async () => {
    const t = await table(img);
    assert.equal(t.scheme, 'gpt');
    assert.deepEqual(t.partitions, sfdiskView(img));
    assert.deepEqual(t.warnings, []);
  });

  it('reads an ext4 file system inside a GPT partition', async () => {
    const p3 = (await table(img)).partitions.find((p) => p.number === 3)!;
    putExt4(img, p3, 'inside gpt partition 3\n');
    assert.equal(await readHello(img, p3), 'inside gpt partition 3\n');
  });

  it('falls back to the backup header when the primary header is damaged', async () => {
    const copy = join(tmp.path, 'gpt-bad-header.img');
    run('cp', ['--sparse=always', img, copy], 'coreutils');
    const want = sfdiskView(img);
    corrupt(copy, 512 + 40, [0xde, 0xad]);
    const t = await table(copy);
    assert.equal(t.scheme, 'gpt');
    assert.deepEqual(t.partitions, want);
    assert.match(t.warnings.join('\n'), /primary GPT is damaged \(header CRC32 mismatch\)/);
  });

  it('falls back to the backup entries when the primary entry array is damaged', async () => {
    const copy = join(tmp.path, 'gpt-bad-entries.img');
    run('cp', ['--sparse=always', img, copy], 'coreutils');
    corrupt(copy, 1024 + 60, [0x41, 0x42]);
    const t = await table(copy);
    assert.equal(t.scheme, 'gpt');
    assert.deepEqual(t.partitions, sfdiskView(img));
    assert.match(t.warnings.join('\n'), /entry array CRC32 mismatch/);
  });

  it('reports the protective MBR when both GPT copies are damaged', async () => {
    const copy = join(tmp.path, 'gpt-both-bad.img');
    run('cp', ['--sparse=always', img, copy], 'coreutils');
    corrupt(copy, 512, [0]);
    corrupt(copy, (64 << 20) - 512, [0]);
    const t = await table(copy);
    assert.equal(t.scheme, 'mbr');
    assert.deepEqual(t.partitions.map((p) => p.type), ['0xee']);
    assert.match(t.warnings.join('\n'), /protective MBR but no valid GPT/);
  });
});

describe('GPT with 4096-byte sectors', () => {
  it('finds the header at byte 4096 and scales LBAs', async (t) => {
    const img = join(tmp.path, 'gpt4k.img');
    run('truncate', ['-s', '64M', img], 'coreutils');
    // sfdisk takes the sector size from the device, so the table is written through a loop device.
    const attach = spawnSync('losetup', ['-f', '--show', '--sector-size', '4096', img], { encoding: 'utf8' });
    if (attach.error) throw new Error('losetup is missing: install the Debian package "mount"');
    if (attach.status !== 0) {
      t.skip(`losetup cannot attach a loop device here (${attach.stderr.trim()}); not root or no loop support`);
      return;
    }
    const dev = attach.stdout.trim();
    let want: Partition[];
    try {
      run('sfdisk', ['-q', dev], 'fdisk', 'label: gpt\n\nstart=256, size=2048, name="a"\nsize=1024, name="b"\n');
      want = sfdiskView(dev);
    } finally {
      run('losetup', ['-d', dev], 'mount');
    }
    assert.equal(want[1].start, 2304 * 4096);
    const got = await table(img);
    assert.equal(got.scheme, 'gpt');
    assert.deepEqual(got.partitions, want);
  });
});

describe('no partition table', () => {
  it('says none for a bare file system and for a zeroed disk', async () => {
    const img = join(tmp.path, 'bare.ext4');
    run('truncate', ['-s', '8M', img], 'coreutils');
    run('mkfs.ext4', ['-q', '-F', img], 'e2fsprogs');
    assert.deepEqual((await table(img)).scheme, 'none');
    assert.deepEqual(await readPartitionTable(memorySource(new Uint8Array(1 << 20))), { scheme: 'none', partitions: [] });
  });

  it('says none for a volume boot record (FAT/NTFS style) despite its 0x55AA', async () => {
    const sector = new Uint8Array(4096);
    sector.set([0xeb, 0x3c, 0x90]);
    sector[11] = 0x00;
    sector[12] = 0x02;
    sector[510] = 0x55;
    sector[511] = 0xaa;
    assert.equal((await readPartitionTable(memorySource(sector))).scheme, 'none');
  });
});

/** An MBR sector with the given (type, start, sectors) entries. */
function mbrSector(entries: [number, number, number][]): Uint8Array {
  const s = new Uint8Array(512);
  const view = new DataView(s.buffer);
  entries.forEach(([type, start, sectors], i) => {
    s[446 + i * 16 + 4] = type;
    view.setUint32(446 + i * 16 + 8, start, true);
    view.setUint32(446 + i * 16 + 12, sectors, true);
  });
  s[510] = 0x55;
  s[511] = 0xaa;
  return s;
}

describe('damaged extended partitions', () => {
  it('stops an EBR chain that loops back on itself', async () => {
    const disk = new Uint8Array(2 << 20);
    disk.set(mbrSector([[0x05, 2048, 2000]]), 0);
    disk.set(mbrSector([[0x83, 63, 100], [0x05, 0, 1]]), 2048 * 512);
    const warnings: string[] = [];
    const t = await readPartitionTable(memorySource(disk), { onWarning: (m) => warnings.push(m) });
    assert.deepEqual(t.partitions.map((p) => [p.number, p.start / 512]), [[1, 2048], [5, 2111]]);
    assert.match(warnings.join('\n'), /loops back/);
  });

  it('stops an endless chain of distinct EBRs', async () => {
    const disk = new Uint8Array(2 << 20);
    disk.set(mbrSector([[0x05, 100, 3000]]), 0);
    for (let i = 0; i < 1000; i++) disk.set(mbrSector([[0x83, 1, 1], [0x05, 2 * (i + 1), 2]]), (100 + 2 * i) * 512);
    const warnings: string[] = [];
    const t = await readPartitionTable(memorySource(disk), { onWarning: (m) => warnings.push(m) });
    assert.equal(t.partitions.length, 1 + 256);
    assert.match(warnings.join('\n'), /more than 256 logical partitions/);
  });
});
