import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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
  const fd = openSourceFile(Buffer.from(file));
  console.log(JSON.stringify({ plain, read: fs.readFileSync(fd, 'utf8') }));
`;

it("opens another user's file, where O_NOATIME is refused, without it", { skip: process.getuid?.() !== 0 ? 'needs root to drop CAP_FOWNER' : false }, async () => {
  const file = path.join(await tempDir(), 'not-mine.txt');
  await fs.writeFile(file, 'owned by nobody\n');
  await fs.chown(file, 65534, 65534);
  const { stdout } = await run('setpriv', ['--bounding-set', '-fowner', '--inh-caps', '-fowner', process.execPath, '--input-type=module', '-e', probe, sourceFile, file]);
  assert.deepEqual(JSON.parse(stdout), { plain: 'EPERM', read: 'owned by nobody\n' });
});
