/**
 * The fault cases: each runs `trials` trials against one repository (the full-disk case
 * one per trial), each trial at a different moment, and counts the trials after which
 * `check --read-data` passed, every complete snapshot restored byte-identical, and the
 * next backup succeeded.
 */
import { execFile } from 'node:child_process';
import { promises as fs, watch } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { pseudoRandom, sha256, treeDigest } from '../../test/helpers.js';
import { mountFaultyTree } from './eio-fuse.js';
import { Expectation, filesBelow, momentOf, summaryId, TrialRepo } from './harness.js';

const execFileP = promisify(execFile);

export interface CaseResult {
  name: string;
  trials: number;
  succeeded: number;
  /** Where the faults landed, e.g. { killed: 18, finished: 2 }. */
  landed: Record<string, number>;
  failures: string[];
}

export type CaseName = 'backup' | 'backup-image' | 'prune' | 'key-passwd' | 'full-disk' | 'read-error';
export const CASES: CaseName[] = ['backup', 'backup-image', 'prune', 'key-passwd', 'full-disk', 'read-error'];

type Log = (line: string) => void;

export async function runCase(name: CaseName, dir: string, trials: number, log: Log = () => {}): Promise<CaseResult> {
  await fs.mkdir(dir, { recursive: true });
  const result: CaseResult = { name, trials, succeeded: 0, landed: {}, failures: [] };
  const trial = async (i: number, body: () => Promise<{ landed: string; problems: string[] }>) => {
    let landed = 'error';
    let problems: string[];
    try {
      ({ landed, problems } = await body());
    } catch (err) {
      problems = [(err as Error).message];
    }
    result.landed[landed] = (result.landed[landed] ?? 0) + 1;
    if (problems.length === 0) result.succeeded++;
    else result.failures.push(`trial ${i} (${landed}): ${problems.join('; ')}`);
    log(`${name} trial ${i + 1}/${trials}: ${landed}, ${problems.length === 0 ? 'ok' : `FAILED: ${problems.join('; ')}`}`);
  };
  const cases: Record<CaseName, () => Promise<void>> = {
    backup: () => killBackup(dir, trials, trial),
    'backup-image': () => killImageBackup(dir, trials, trial),
    prune: () => killPrune(dir, trials, trial),
    'key-passwd': () => killKeyPasswd(dir, trials, trial),
    'full-disk': () => fullDisk(dir, trials, trial),
    'read-error': () => readError(dir, trials, trial),
  };
  await cases[name]();
  return result;
}

type Trial = (i: number, body: () => Promise<{ landed: string; problems: string[] }>) => Promise<void>;

/** 24 files of 256 KiB; generation g rewrites a third of them with new content. */
async function writeSource(src: string, generation: number): Promise<void> {
  await fs.mkdir(src, { recursive: true });
  for (let i = 0; i < 24; i++) {
    const version = generation === 0 || (i + generation) % 3 !== 0 ? null : generation;
    const file = path.join(src, `f${String(i).padStart(2, '0')}.bin`);
    if (version === null && generation > 0) continue;
    await fs.writeFile(file, pseudoRandom(256 * 1024, i * 100_003 + (version ?? 0) + 1));
  }
}

async function filesExpectation(src: string): Promise<Expectation> {
  return { kind: 'files', src, digest: await treeDigest(src) };
}

async function nextBackup(t: TrialRepo, problems: string[], src: string, extra: string[] = []): Promise<void> {
  try {
    await t.backupFiles(src, extra);
  } catch (err) {
    problems.push(`next backup: ${(err as Error).message}`);
  }
}

async function killBackup(dir: string, trials: number, trial: Trial) {
  const t = new TrialRepo(dir);
  const src = path.join(dir, 'src');
  await t.ok(['init', '--pack-size', '256K']);
  await writeSource(src, 0);
  await t.backupFiles(src);
  await writeSource(src, 1);
  const t0 = Date.now();
  await t.backupFiles(src);
  const duration = Date.now() - t0;
  for (let i = 0; i < trials; i++) {
    await trial(i, async () => {
      await writeSource(src, i + 2);
      const during = await filesExpectation(src);
      const k = await t.killedAfter(['backup', src], momentOf(i, trials, duration));
      const problems = !k.killed && k.code !== 0 ? [`backup failed on its own (exit ${k.code}): ${k.stderr.trim()}`] : [];
      problems.push(...(await t.verify(during)));
      await nextBackup(t, problems, src);
      await t.keepLast(3);
      return { landed: k.killed ? 'killed' : 'finished', problems };
    });
  }
}

async function makeExt4(src: string, image: string): Promise<void> {
  await fs.rm(image, { force: true });
  try {
    await execFileP('mkfs.ext4', ['-q', '-F', '-d', src, image, '16M']);
  } catch (err) {
    throw new Error(`mkfs.ext4 -d failed (install e2fsprogs): ${(err as Error).message}`);
  }
}

async function killImageBackup(dir: string, trials: number, trial: Trial) {
  const t = new TrialRepo(dir);
  const src = path.join(dir, 'src');
  const image = path.join(dir, 'disk.img');
  await t.ok(['init', '--pack-size', '256K']);
  await writeSource(src, 0);
  await makeExt4(src, image);
  await t.backupImage(image);
  await writeSource(src, 1);
  await makeExt4(src, image);
  const t0 = Date.now();
  await t.backupImage(image);
  const duration = Date.now() - t0;
  for (let i = 0; i < trials; i++) {
    await trial(i, async () => {
      await writeSource(src, i + 2);
      await makeExt4(src, image);
      const during: Expectation = { kind: 'image', sha256: sha256(await fs.readFile(image)) };
      const k = await t.killedAfter(['backup', '--image', image], momentOf(i, trials, duration));
      const problems = !k.killed && k.code !== 0 ? [`backup --image failed on its own (exit ${k.code}): ${k.stderr.trim()}`] : [];
      problems.push(...(await t.verify(during)));
      try {
        await t.backupImage(image);
      } catch (err) {
        problems.push(`next image backup: ${(err as Error).message}`);
      }
      await t.keepLast(3);
      return { landed: k.killed ? 'killed' : 'finished', problems };
    });
  }
}

async function killPrune(dir: string, trials: number, trial: Trial) {
  const t = new TrialRepo(dir);
  const src = path.join(dir, 'src');
  await t.ok(['init', '--pack-size', '64K']);
  let gen = 0;
  for (; gen < 3; gen++) {
    await writeSource(src, gen);
    await t.backupFiles(src);
  }
  await t.keepLast(2);
  const duration = await t.timed(['prune', '--max-unused', '0%']);
  for (let i = 0; i < trials; i++) {
    await trial(i, async () => {
      await writeSource(src, gen++);
      await t.backupFiles(src);
      await t.keepLast(2);
      const k = await t.killedAfter(['prune', '--max-unused', '0%'], momentOf(i, trials, duration));
      const problems = !k.killed && k.code !== 0 ? [`prune failed on its own (exit ${k.code}): ${k.stderr.trim()}`] : [];
      problems.push(...(await t.verify()));
      await nextBackup(t, problems, src);
      return { landed: k.killed ? 'killed' : 'finished', problems };
    });
  }
  const problems = await t.verify();
  if (problems.length > 0) throw new Error(`after the last prune trial: ${problems.join('; ')}`);
}

async function killKeyPasswd(dir: string, trials: number, trial: Trial) {
  const t = new TrialRepo(dir, undefined, 'password-0');
  const src = path.join(dir, 'src');
  await t.ok(['init']);
  await writeSource(src, 0);
  await t.backupFiles(src);
  // The new key gets the real Argon2id cost (64 MiB), so a run lasts long enough to hit.
  const strong = { CAIRN_TEST_WEAK_KDF: '0' };
  const pwFile = path.join(dir, 'new-password');
  // Two runs: the second, like every trial, also pays the full cost to open the current key.
  await fs.writeFile(pwFile, 'password-probe\n');
  await t.timed(['key', 'passwd', '--new-password-file', pwFile], strong);
  await fs.writeFile(pwFile, 'password-probe-2\n');
  const duration = await t.timed(['key', 'passwd', '--new-password-file', pwFile], { ...strong, CAIRN_PASSWORD: 'password-probe' });
  t.env.CAIRN_PASSWORD = 'password-probe-2';
  const opens = async (pw: string) => {
    const r = await t.run(['snapshots', '--json'], { CAIRN_PASSWORD: pw });
    if (r.code !== 0 && r.code !== 12) throw new Error(`snapshots exited ${r.code}: ${r.stderr.trim()}`);
    return r.code === 0;
  };
  for (let i = 0; i < trials; i++) {
    await trial(i, async () => {
      const old = t.env.CAIRN_PASSWORD;
      const fresh = `password-${i + 1}`;
      await fs.writeFile(pwFile, `${fresh}\n`);
      // The new key file is written in the last few milliseconds of a run (after two
      // Argon2id derivations), too short to hit by time. Even trials spread the kill over
      // the run; odd ones kill 0-4 ms after the new key's temporary file appears.
      const args = ['key', 'passwd', '--new-password-file', pwFile];
      const k =
        i % 2 === 0
          ? await t.killedAfter(args, momentOf(i >> 1, Math.ceil(trials / 2), duration), strong)
          : await withKeyWatch(path.join(t.repo, 'keys'), (((i >> 1) % 8) + Math.random()) / 2, (appeared) => t.killedAfter(args, 60_000, strong, appeared));
      const problems = !k.killed && k.code !== 0 ? [`key passwd failed on its own (exit ${k.code}): ${k.stderr.trim()}`] : [];
      const [oldOk, newOk] = [await opens(old), await opens(fresh)];
      if (!oldOk && !newOk) problems.push('neither the old nor the new password opens the repository');
      if (!k.killed && (oldOk || !newOk)) problems.push(`key passwd finished, but old password opens: ${oldOk}, new: ${newOk}`);
      t.env.CAIRN_PASSWORD = newOk ? fresh : old;
      problems.push(...(await t.verify()));
      await nextBackup(t, problems, src);
      await t.keepLast(2);
      const landed = `${k.killed ? 'killed' : 'finished'}: ${oldOk && newOk ? 'both keys' : newOk ? 'new key' : 'old key'}`;
      return { landed, problems };
    });
  }
}

/** Runs `fn` with a promise that resolves `delayMs` after a temporary file appears in `dir`. */
async function withKeyWatch<T>(dir: string, delayMs: number, fn: (appeared: Promise<void>) => Promise<T>): Promise<T> {
  const watcher = watch(dir);
  try {
    const appeared = new Promise<void>((resolve) => {
      watcher.on('change', (_event, name) => {
        if (String(name).endsWith('.tmp')) setTimeout(resolve, delayMs);
      });
    });
    return await fn(appeared);
  } finally {
    watcher.close();
  }
}

async function mount(args: string[]): Promise<void> {
  try {
    await execFileP('mount', args);
  } catch (err) {
    throw new Error(`mount ${args.join(' ')} failed (needs root): ${(err as Error).message}`);
  }
}

/**
 * One fresh repository per trial on a tmpfs that is then shrunk to leave a different
 * amount of room for a backup that needs more. Half the trials back up 6 MiB with room
 * spread evenly below what it needs (measured by a first run without a limit): a pack
 * write fails. The other half back up the same data again plus one new small file with
 * 0 to 5 pages of room, so that the lock, pack, index or snapshot write is the one that fails.
 */
async function fullDisk(dir: string, trials: number, trial: Trial) {
  const bigBytes = 6 * 1024 * 1024;
  const page = 4096;
  /** A repository on a fresh 64 MiB tmpfs holding one small snapshot; `shrink` leaves `room` bytes free. */
  const withTmpfs = async <T>(i: number, fn: (t: TrialRepo, big: string, shrink: (room: number) => Promise<void>, used: () => Promise<number>) => Promise<T>): Promise<T> => {
    const mnt = path.join(dir, `tmpfs-${i}`);
    await fs.mkdir(mnt, { recursive: true });
    await mount(['-t', 'tmpfs', '-o', 'size=64m', 'cairn-fault', mnt]);
    try {
      const t = new TrialRepo(path.join(dir, `trial-${i}`), path.join(mnt, 'repo'));
      const small = path.join(t.dir, 'small');
      const big = path.join(t.dir, 'big');
      await fs.mkdir(small, { recursive: true });
      await fs.mkdir(big, { recursive: true });
      await fs.writeFile(path.join(small, 'a.bin'), pseudoRandom(512 * 1024, i + 1));
      for (let f = 0; f < 6; f++) await fs.writeFile(path.join(big, `b${f}.bin`), pseudoRandom(bigBytes / 6, 1000 * i + f + 7));
      await t.ok(['init', '--pack-size', '512K']);
      await t.backupFiles(small);
      const used = async () => {
        const st = await fs.statfs(mnt);
        return (st.blocks - st.bfree) * st.bsize;
      };
      const shrink = async (room: number) => mount(['-o', `remount,size=${Math.ceil(((await used()) + room) / page) * page}`, mnt]);
      return await fn(t, big, shrink, used);
    } finally {
      await execFileP('umount', [mnt]).catch(() => {});
      await fs.rm(path.join(dir, `trial-${i}`), { recursive: true, force: true });
    }
  };
  const need = await withTmpfs(-1, async (t, big, _shrink, used) => {
    const before = await used();
    await t.backupFiles(big);
    return (await used()) - before;
  });
  for (let i = 0; i < trials; i++) {
    const nearlyFull = i % 2 === 1;
    const room = nearlyFull ? page * ((i >> 1) % 6) : Math.round(((i + 2) / (trials + 2)) * need);
    await trial(i, () =>
      withTmpfs(i, async (t, big, shrink) => {
        if (nearlyFull) {
          await t.backupFiles(big);
          await fs.writeFile(path.join(big, 'new.txt'), `trial ${i}\n`);
        }
        await shrink(room);
        const r = await t.run(['backup', '--json', big]);
        const problems: string[] = [];
        let landed: string;
        if (r.code === 0) {
          landed = 'fit';
          t.expected.set(summaryId(r), { kind: 'files', src: big, digest: await treeDigest(big) });
        } else {
          // With --json the error is a JSON line on stdout.
          const where = /no space left on device while writing (\w+)\//.exec(r.stderr + r.stdout);
          landed = where ? `ENOSPC at ${where[1]}` : 'failed';
          if (!where) problems.push(`backup exited ${r.code} without saying the disk is full: ${(r.stderr + r.stdout).trim().split('\n').slice(-2).join(' | ')}`);
        }
        await shrink(64 * 1024 * 1024);
        const leftovers = (await filesBelow(t.repo)).filter((f) => f.endsWith('.tmp'));
        if (leftovers.length > 0) problems.push(`partial files left: ${leftovers.map((f) => path.relative(t.repo, f)).join(', ')}`);
        problems.push(...(await t.verify()));
        await nextBackup(t, problems, big);
        return { landed, problems };
      }),
    );
  }
}

/**
 * The source is a FUSE tree where one file fails with EIO from some offset on (a
 * different file and offset each trial). The backup must finish with exit 3, name the
 * file, and leave it out of the snapshot rather than store part of it.
 */
async function readError(dir: string, trials: number, trial: Trial) {
  const t = new TrialRepo(dir);
  const mnt = path.join(dir, 'faulty');
  const fileBytes = 1024 * 1024;
  const filesOf = (gen: number) => new Map(Array.from({ length: 6 }, (_, f) => [`f${f}.bin`, pseudoRandom(fileBytes, gen * 10 + f + 1)] as const));
  const tree = await mountFaultyTree(mnt, filesOf(0));
  try {
    await t.ok(['init', '--pack-size', '256K']);
    await t.backupFiles(mnt);
    for (let i = 0; i < trials; i++) {
      await trial(i, async () => {
        tree.setFiles(filesOf(i + 1));
        const bad = `f${i % 6}.bin`;
        const whole = await treeDigest(mnt);
        const during: Expectation = { kind: 'files', src: mnt, digest: new Map([...whole].filter(([k]) => k !== `/${Buffer.from(bad).toString('base64')}`)) };
        tree.failAt(bad, Math.floor(((i + 0.5) / trials) * fileBytes));
        let r;
        try {
          r = await t.run(['backup', '--force', '--json', mnt]);
        } finally {
          tree.failAt(null);
        }
        const problems: string[] = [];
        const said = r.stderr + r.stdout;
        if (r.code !== 3) problems.push(`backup exited ${r.code}, not 3 (some files unreadable): ${r.stderr.trim()}`);
        else if (!said.includes(bad) || !/EIO|i\/o error/i.test(said)) problems.push(`the warning does not name ${bad} and EIO: ${said.trim().slice(-500)}`);
        if (r.code === 3) t.expected.set(summaryId(r), during);
        problems.push(...(await t.verify()));
        await nextBackup(t, problems, mnt);
        await t.keepLast(3);
        return { landed: `EIO in ${bad}`, problems };
      });
    }
  } finally {
    await tree.unmount();
  }
}
