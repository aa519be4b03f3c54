import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tryNoAtime } from '../../repo/source-file.js';
import { tempDir } from '../helpers.js';

const run = promisify(execFile);
const sourceFile = fileURLToPath(new URL('../../repo/source-file.js', import.meta.url));

// The kernel refuses O_NOATIME on another user's file unless the caller holds CAP_FOWNER.
// Root without that capability is such a caller, and can still read the module and file.
const probe = `
  import fs from 'node:fs';
  const [module, file] = process.argv.slice(1);
  let plain = 'opened';
  try { fs.closeSync(fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOATIME)); } catch (e) { plain = e.code; }
  const { openSourceFile } = await import(module);
  const fd = openSourceFile(Buffer.from(file).toString('latin1'), fs.lstatSync(file).uid);
  console.log(JSON.stringify({ plain, read: fs.readFileSync(fd, 'utf8') }));
`;

it("opens another user's file, where O_NOATIME is refused, without it", { skip: process.getuid?.() !== 0 ? 'needs root to drop CAP_FOWNER' : false }, async () => {
  const file = path.join(await tempDir(), 'not-mine.txt');
  await fs.writeFile(file, 'owned by nobody\n');
  await fs.chown(file, 65534, 65534);
  const { stdout } = await run('setpriv', ['--bounding-set', '-fowner', '--inh-caps', '-fowner', process.execPath, '--input-type=module', '-e', probe, sourceFile, file]);
  assert.deepEqual(JSON.parse(stdout), { plain: 'EPERM', read: 'owned by nobody\n' });
});

it('tries O_NOATIME as root and on files of its own only', () => {
  assert.equal(tryNoAtime(1000, 0), true);
  assert.equal(tryNoAtime(1000, 1000), true);
  assert.equal(tryNoAtime(0, 1000), false);
  assert.equal(tryNoAtime(1001, 1000), false);
});

// Each file as the walk hands it over: the owner lstat saw, then the open.
const openEach = `
  import fs from 'node:fs';
  const [module, ...files] = process.argv.slice(1);
  const { openSourceFile } = await import(module);
  console.log(JSON.stringify(files.map((f) => fs.readFileSync(openSourceFile(Buffer.from(f).toString('latin1'), fs.lstatSync(f).uid), 'utf8'))));
`;

it("a user opens another's file once, without O_NOATIME, and its own with it", { skip: process.getuid?.() !== 0 ? 'needs root to run as another user' : false }, async () => {
  const dir = await tempDir();
  await fs.chmod(dir, 0o755);
  const theirs = path.join(dir, 'root-owned.txt');
  await fs.writeFile(theirs, 'owned by root\n', { mode: 0o644 });
  const mine = path.join(dir, 'mine.txt');
  await fs.writeFile(mine, 'owned by nobody\n');
  await fs.chown(mine, 65534, 65534);
  // Without -f strace follows the main thread only, the one that opens the files, so
  // no other thread's calls interleave with its lines.
  const log = path.join(dir, 'openat.log');
  const { stdout } = await run('strace', ['-qq', '-s', '4096', '-e', 'trace=openat', '-o', log, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', openEach, sourceFile, theirs, mine]);
  assert.deepEqual(JSON.parse(stdout), ['owned by root\n', 'owned by nobody\n']);
  const opens = (await fs.readFile(log, 'utf8')).split('\n');
  const of = (file: string) => opens.filter((l) => l.includes(`"${file}"`));
  assert.equal(of(theirs).length, 1, of(theirs).join('\n'));
  assert.match(of(theirs)[0], /^openat\(.*\) = \d+$/);
  assert.doesNotMatch(of(theirs)[0], /O_NOATIME/);
  assert.equal(of(mine).length, 1, of(mine).join('\n'));
  assert.match(of(mine)[0], /^openat\(.*O_NOATIME.*\) = \d+$/);
});
