import { ClassicLevel } from 'classic-level';
import { cpSync, rmSync } from 'node:fs';
const src = process.argv[2]; const loc = '/tmp/lead/s11/ldbcopy';
rmSync(loc, { recursive: true, force: true }); cpSync(src, loc, { recursive: true });
const opts = JSON.parse(process.argv[3] ?? '{}');
const db = new ClassicLevel(loc, { keyEncoding: 'buffer', valueEncoding: 'buffer', maxOpenFiles: 250, ...opts });
await db.open();
const keys = []; for await (const k of db.keys()) keys.push(k);
keys.sort(() => Math.random() - 0.5);
for (let r = 0; r < 3; r++) { const t = process.hrtime.bigint(); let n = 0; for (const k of keys) if (db.getSync(k)) n++; console.log(JSON.stringify(opts), n, 'gets', (Number(process.hrtime.bigint() - t) / 1e3 / n).toFixed(2), 'µs each'); }
await db.close();
