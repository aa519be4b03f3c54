/**
 * Secrets stay secret on the machine: no password in any process's arguments or
 * environment when it comes from a file or a command, no password or key material in
 * any output (also of failing commands), and no plain file names in the repository or
 * the local cache after an image backup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { deriveKey } from '../../crypto/kdf.js';
import { parseKeyFile, unwrapKeyFile } from '../../repo/key-file.js';
import { CAIRN_BIN, cairn, pseudoRandom, RunResult, tempDir } from '../helpers.js';
import { requireTool } from '../mount/long-running.js';
import { filesBelow } from '../../bench/faults/harness.js';

const PASSWORD = 'Correct-Horse-7f3a9c-Battery-Staple';

async function makeRepo(dir: string) {
  const repo = path.join(dir, 'repo');
  const g = ['--repo', repo, '--cache-dir', path.join(dir, 'cache')];
  const src = path.join(dir, 'src');
  await fs.mkdir(src, { recursive: true });
  for (let i = 0; i < 4; i++) await fs.writeFile(path.join(src, `f${i}.bin`), pseudoRandom(200_000, i + 1));
  const pwFile = path.join(dir, 'password');
  await fs.writeFile(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  const r = await cairn([...g, '--password-file', pwFile, 'init']);
  assert.equal(r.code, 0, r.stderr);
  return { repo, g, src, pwFile };
}

/** Every process below `root` (its children, theirs, ...), from the ppid field of /proc/<pid>/stat. */
async function descendants(root: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await fs.readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    // The command name in parentheses may hold spaces: the ppid is the second field after it.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid) parent.set(Number(name), ppid);
  }
  const out: number[] = [];
  const isBelow = (pid: number) => {
    for (let p = parent.get(pid), hops = 0; p !== undefined && hops < 64; p = parent.get(p), hops++) if (p === root) return true;
    return false;
  };
  for (const pid of parent.keys()) if (isBelow(pid)) out.push(pid);
  return out;
}

/**
 * Starts a long-running cairn (mount) and samples the arguments and environment of it and
 * of every process below it until it is ready. Returns what it saw.
 */
async function sampleProcesses(args: string[], dir: string): Promise<{ seen: Map<number, string>; samples: number }> {
  const mnt = path.join(dir, `mnt-${Date.now()}`);
  await fs.mkdir(mnt);
  const child = spawn(process.execPath, [CAIRN_BIN, ...args, 'mount', mnt], { env: { ...process.env, CAIRN_TEST_WEAK_KDF: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const seen = new Map<number, string>();
  let samples = 0;
  const deadline = Date.now() + 30_000;
  let afterReady = 5;
  try {
    while (afterReady > 0) {
      assert.ok(Date.now() < deadline, `cairn mount was not ready in 30 s: ${out}`);
      assert.equal(child.exitCode, null, `cairn mount exited early: ${out}`);
      for (const pid of [child.pid!, ...(await descendants(child.pid!))]) {
        const cmdline = await fs.readFile(`/proc/${pid}/cmdline`).catch(() => null);
        const environ = await fs.readFile(`/proc/${pid}/environ`).catch(() => null);
        if (cmdline) seen.set(pid, `${cmdline.toString().replaceAll('\0', ' ')} | ${environ?.toString().replaceAll('\0', ' ')}`);
      }
      samples++;
      if (/mounted at/.test(out)) afterReady--;
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('close', r));
    execFileSync('sh', ['-c', `umount ${mnt} 2>/dev/null || true`]);
  }
  return { seen, samples };
}

test('a password from --password-file or --password-command is in no process arguments or environment', async () => {
  requireTool('fusermount3', 'fuse3');
  const dir = await tempDir('cairn-secrets-');
  const { g, src, pwFile } = await makeRepo(dir);
  assert.equal((await cairn([...g, '--password-file', pwFile, 'backup', src])).code, 0);

  const fromFile = await sampleProcesses([...g, '--password-file', pwFile], dir);
  assert.ok(fromFile.seen.size >= 1 && fromFile.samples >= 5);
  // The command sleeps, so its shell is seen running below cairn.
  const command = `sleep 0.5; cat ${pwFile}`;
  const fromCommand = await sampleProcesses([...g, '--password-command', command], dir);
  assert.ok([...fromCommand.seen.values()].some((s) => s.includes('sleep 0.5')), `the password command was seen running: ${[...fromCommand.seen.values()].join('\n')}`);
  for (const [pid, s] of [...fromFile.seen, ...fromCommand.seen]) assert.ok(!s.includes(PASSWORD), `process ${pid} shows the password: ${s}`);
});

/** A secret in every form it could be printed in. */
function encodings(name: string, bytes: Uint8Array): [string, string][] {
  const b = Buffer.from(bytes);
  return [
    [`${name} hex`, b.toString('hex')],
    [`${name} HEX`, b.toString('hex').toUpperCase()],
    [`${name} base64`, b.toString('base64').replace(/=+$/, '')],
    [`${name} base64url`, b.toString('base64url')],
    [`${name} first 16 bytes hex`, b.subarray(0, 16).toString('hex')],
  ];
}

async function keyMaterial(repo: string, password: string): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (const name of await fs.readdir(path.join(repo, 'keys'))) {
    const kf = parseKeyFile(await fs.readFile(path.join(repo, 'keys', name)), name);
    const master = await unwrapKeyFile(kf, password);
    if (!master) continue;
    out.push(...encodings('encryption key', master.encrypt), ...encodings('blob id key', master.blobId));
    out.push(...encodings('master key', Buffer.concat([master.encrypt, master.blobId])));
    out.push(...encodings(`derived key of keys/${name.slice(0, 8)}`, await deriveKey(password, kf.kdf)));
  }
  assert.ok(out.length > 0, `${password} opens a key file`);
  return out;
}

test('no password or key material in the output of any command, also when it fails', async () => {
  const dir = await tempDir('cairn-secrets-');
  const { repo, g, src, pwFile } = await makeRepo(dir);
  const newPwFile = path.join(dir, 'new-password');
  const NEW_PASSWORD = 'Second-Password-91b2e0-Tuba';
  await fs.writeFile(newPwFile, `${NEW_PASSWORD}\n`);
  const outputs: { args: string[]; r: RunResult }[] = [];
  const run = async (args: string[], env: Record<string, string> = {}, want?: number) => {
    const r = await cairn(args, env);
    outputs.push({ args, r });
    if (want !== undefined) assert.equal(r.code, want, `cairn ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const pf = [...g, '--password-file', pwFile];
  const secrets: [string, string][] = [['password', PASSWORD], ['new password', NEW_PASSWORD], ...(await keyMaterial(repo, PASSWORD))];

  await run([...pf, 'backup', src], {}, 0);
  await run([...pf, '--json', 'backup', src], {}, 0);
  // Read-only commands run side by side to keep the test short.
  await Promise.all([
    run([...pf, '--json', 'snapshots'], {}, 0),
    run([...pf, '--json', 'ls', 'latest'], {}, 0),
    run([...pf, '--json', 'stats'], {}, 0),
    run([...pf, '--json', 'check', '--read-data'], {}, 0),
    run([...pf, 'check'], {}, 0),
    run([...pf, '--json', 'key', 'list'], {}, 0),
    run([...pf, 'restore', 'latest', '--target', path.join(dir, 'restore')], {}, 0),
    run([...g, '--password-command', `cat ${pwFile}`, 'snapshots'], {}, 0),
    run([...g, '--json', 'snapshots'], { CAIRN_PASSWORD: PASSWORD }, 0),
    // Failing: a wrong password, and a password command that prints the password and then fails.
    ...[[], ['--json']].flatMap((json) => [
      run([...g, ...json, 'snapshots'], { CAIRN_PASSWORD: `${PASSWORD}-wrong` }, 12),
      run([...g, ...json, '--password-command', `cat ${pwFile}; cat ${pwFile} >&2; exit 3`, 'snapshots'], {}, 1),
    ]),
  ]);
  await run([...pf, 'cat', 'config'], {}, 0);
  const keyName = (await fs.readdir(path.join(repo, 'keys')))[0];
  await run([...pf, 'cat', 'key', keyName], {}, 0);
  await run([...pf, 'key', 'add', '--new-password-file', newPwFile], {}, 0);
  await run([...pf, '--json', 'key', 'passwd', '--new-password-file', newPwFile], {}, 0);
  secrets.push(...(await keyMaterial(repo, NEW_PASSWORD)));
  const npf = [...g, '--password-file', newPwFile];

  // A damaged pack: check and restore report it.
  const packs = (await filesBelow(path.join(repo, 'data'))).sort();
  const victim = packs[0];
  const bytes = await fs.readFile(victim);
  bytes[10] ^= 0xff;
  await fs.writeFile(victim, bytes);
  await Promise.all(
    [[], ['--json']].flatMap((json) => [
      run([...npf, ...json, 'check', '--read-data'], {}, 1),
      // Fails only if the latest snapshot uses the damaged blob; its output is checked either way.
      run([...npf, ...json, 'restore', 'latest', '--target', path.join(dir, `damaged${json.length}`)]),
    ]),
  );
  // Damaged key files: the sealed master key edited, then the JSON cut short.
  for (const name of await fs.readdir(path.join(repo, 'keys'))) {
    const file = path.join(repo, 'keys', name);
    const kf = JSON.parse(await fs.readFile(file, 'utf8'));
    kf.data = Buffer.from(Buffer.from(kf.data, 'base64').map((b, i) => (i === 20 ? b ^ 1 : b))).toString('base64');
    await fs.writeFile(file, JSON.stringify(kf));
  }
  for (const json of [[], ['--json']]) await run([...npf, ...json, 'snapshots'], {}, 12);
  for (const name of await fs.readdir(path.join(repo, 'keys'))) await fs.truncate(path.join(repo, 'keys', name), 30);
  for (const json of [[], ['--json']]) await run([...npf, ...json, 'snapshots'], {}, 1);

  assert.ok(outputs.length >= 25);
  assert.ok(outputs.some(({ r }) => r.code === 12) && outputs.some(({ r }) => /damaged/.test(r.stderr + r.stdout)), 'the error paths ran');
  for (const { args, r } of outputs) {
    const text = `${r.stdout}\n${r.stderr}`;
    for (const [what, s] of secrets) assert.ok(!text.includes(s), `cairn ${args.slice(2).join(' ')} printed the ${what}:\n${text.slice(0, 2000)}`);
  }
});

test('an image snapshot leaves no file names or contents in the repository or the cache', async () => {
  requireTool('mkfs.ext4', 'e2fsprogs');
  const dir = await tempDir('cairn-secrets-');
  const tree = path.join(dir, 'tree');
  const NAME = 'aardvark-ledger-of-hidden-accounts';
  const TEXT = 'the heron counts coins beneath the orchard';
  await fs.mkdir(path.join(tree, 'finance-wombat-folder'), { recursive: true });
  await fs.writeFile(path.join(tree, 'finance-wombat-folder', `${NAME}.txt`), `${TEXT}\n`.repeat(300));
  await fs.writeFile(path.join(tree, 'random.bin'), pseudoRandom(500_000, 3));
  const image = path.join(dir, 'disk.img');
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', tree, image, '8M']);
  const needles = [NAME, 'finance-wombat-folder', TEXT.slice(0, 24)].map((s) => Buffer.from(s));
  // The check can fail: the image holds the names and the text in plain.
  const raw = await fs.readFile(image);
  for (const n of needles) assert.ok(raw.includes(n), `the image contains ${n}`);

  const repo = path.join(dir, 'repo');
  const cache = path.join(dir, 'cache');
  const g = ['--repo', repo, '--cache-dir', cache];
  const env = { CAIRN_PASSWORD: PASSWORD };
  assert.equal((await cairn([...g, 'init'], env)).code, 0);
  const b = await cairn([...g, 'backup', '--image', image], env);
  assert.equal(b.code, 0, b.stderr);
  const ls = await cairn([...g, 'ls', 'latest'], env);
  assert.match(ls.stdout, new RegExp(NAME), 'the image snapshot lists the file (its tree holds the name, encrypted)');
  const files = [...(await filesBelow(repo)), ...(await filesBelow(cache))];
  assert.ok(files.length > 5);
  for (const f of files) {
    const bytes = await fs.readFile(f);
    for (const n of needles) assert.ok(!bytes.includes(n), `${f} contains ${n}`);
  }
});
