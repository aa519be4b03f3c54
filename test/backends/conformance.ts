import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { AlreadyExistsError, Backend, FileType, Handle, NotFoundError, ObjectInfo } from '../../backends/backend.js';
import { mapLimit } from '../../backends/concurrency.js';

/** Object names as the repository makes them: hex SHA-256 of the content. */
export function nameOf(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function listAll(b: Backend, type: FileType): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const info of b.list(type)) out.push(info);
  return out.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/**
 * The behaviour every Backend must share. `make` returns a new, empty, not yet created
 * store each time; the suite calls create() itself.
 */
export function backendConformance(name: string, make: () => Promise<Backend>): void {
  async function withBackend(fn: (b: Backend) => Promise<void>): Promise<void> {
    const b = await make();
    try {
      await b.create();
      await fn(b);
    } finally {
      await b.close();
    }
  }

  describe(`${name} backend conformance`, () => {
    it('create is idempotent and a new store is no repository until config exists', () =>
      withBackend(async (b) => {
        await b.create();
        assert.equal(await b.isRepository(), false);
        const config = bytes('{"version":1}');
        await b.save({ type: 'config', name: '' }, config);
        assert.equal(await b.isRepository(), true);
        assert.deepEqual(Buffer.from(await b.load({ type: 'config', name: '' })), Buffer.from(config));
        assert.deepEqual(await listAll(b, 'config'), [{ name: '', size: config.length }]);
        await assert.rejects(b.save({ type: 'config', name: '' }, bytes('other')), AlreadyExistsError);
        assert.deepEqual(Buffer.from(await b.load({ type: 'config', name: '' })), Buffer.from(config));
      }));

    it('saves and loads whole objects byte for byte, including empty ones', () =>
      withBackend(async (b) => {
        const big = randomBytes(1 << 20);
        const empty = new Uint8Array(0);
        for (const [type, data] of [['data', big], ['index', bytes('index')], ['snapshots', empty], ['keys', bytes('{}')]] as const) {
          const h: Handle = { type, name: nameOf(data) };
          await b.save(h, data);
          assert.deepEqual(Buffer.from(await b.load(h)), Buffer.from(data), `${type} round trip`);
          assert.deepEqual(await b.stat(h), { name: h.name, size: data.length });
        }
      }));

    it('reads ranges, clipping at the end of the object', () =>
      withBackend(async (b) => {
        const data = randomBytes(10_000);
        const h: Handle = { type: 'data', name: nameOf(data) };
        await b.save(h, data);
        const cases: Array<[number, number | undefined, Uint8Array]> = [
          [0, 10, data.subarray(0, 10)],
          [1234, 4321, data.subarray(1234, 1234 + 4321)],
          [9_990, undefined, data.subarray(9_990)],
          [9_990, 100, data.subarray(9_990)],
          [10_000, 5, new Uint8Array(0)],
          [20_000, undefined, new Uint8Array(0)],
          [5, 0, new Uint8Array(0)],
        ];
        for (const [offset, length, want] of cases) {
          const got = await b.load(h, offset, length);
          assert.deepEqual(Buffer.from(got), Buffer.from(want), `offset ${offset} length ${length}`);
        }
      }));

    it('reports a missing object as NotFoundError from load, ranged load and stat', () =>
      withBackend(async (b) => {
        const h: Handle = { type: 'index', name: nameOf(bytes('never saved')) };
        await assert.rejects(b.load(h), NotFoundError);
        await assert.rejects(b.load(h, 3, 7), NotFoundError);
        await assert.rejects(b.stat(h), NotFoundError);
        await assert.rejects(b.load({ type: 'config', name: '' }), NotFoundError);
      }));

    it('keeps objects immutable but lets locks be refreshed', () =>
      withBackend(async (b) => {
        const first = bytes('first version');
        for (const type of ['data', 'index', 'snapshots', 'keys'] as const) {
          const h: Handle = { type, name: nameOf(first) };
          await b.save(h, first);
          // Saved again (two backups storing the same pack): refused as already there.
          await assert.rejects(b.save(h, first), AlreadyExistsError, `${type} saved twice`);
          // Another body under this name is refused too (S3 may say its SHA-256 does not
          // match the name before it checks for the object).
          await assert.rejects(b.save(h, bytes('a different, longer body')), Error, `${type} overwrite`);
          assert.deepEqual(Buffer.from(await b.load(h)), Buffer.from(first));
        }
        const lock: Handle = { type: 'locks', name: 'a1b2' };
        await b.save(lock, bytes('held at 1'));
        await b.save(lock, bytes('refreshed at 2'));
        assert.equal(new TextDecoder().decode(await b.load(lock)), 'refreshed at 2');
      }));

    it('lists each type separately, with sizes', () =>
      withBackend(async (b) => {
        const packs = [randomBytes(100), randomBytes(200), randomBytes(300)];
        for (const p of packs) await b.save({ type: 'data', name: nameOf(p) }, p);
        const snap = bytes('snapshot');
        await b.save({ type: 'snapshots', name: nameOf(snap) }, snap);
        await b.save({ type: 'locks', name: 'lock1' }, bytes('x'));

        const want = packs.map((p) => ({ name: nameOf(p), size: p.length })).sort((x, y) => (x.name < y.name ? -1 : 1));
        assert.deepEqual(await listAll(b, 'data'), want);
        assert.deepEqual(await listAll(b, 'snapshots'), [{ name: nameOf(snap), size: snap.length }]);
        assert.deepEqual(await listAll(b, 'locks'), [{ name: 'lock1', size: 1 }]);
        assert.deepEqual(await listAll(b, 'index'), []);
        assert.deepEqual(await listAll(b, 'config'), []);
      }));

    it('lists more than 1000 objects completely', { timeout: 120_000 }, () =>
      withBackend(async (b) => {
        const count = 1_100;
        const items = Array.from({ length: count }, (_, i) => bytes(`object ${i}`));
        await mapLimit(items, 16, (data) => b.save({ type: 'data', name: nameOf(data) }, data));
        const listed = await listAll(b, 'data');
        assert.equal(listed.length, count);
        assert.deepEqual(listed, items.map((d) => ({ name: nameOf(d), size: d.length })).sort((x, y) => (x.name < y.name ? -1 : 1)));
      }));

    it('removes objects, and removing a missing one is no error', () =>
      withBackend(async (b) => {
        for (const type of ['index', 'data'] as const) {
          const data = bytes(`${type} to be removed`);
          const h: Handle = { type, name: nameOf(data) };
          await b.save(h, data);
          // Loaded first: a backend that keeps a loaded pack open must still forget it.
          assert.deepEqual(Buffer.from(await b.load(h, 1, 4)), Buffer.from(data.subarray(1, 5)));
          await b.remove(h);
          await assert.rejects(b.stat(h), NotFoundError);
          await assert.rejects(b.load(h), NotFoundError);
          await assert.rejects(b.load(h, 1, 4), NotFoundError);
          assert.deepEqual(await listAll(b, type), []);
          await b.remove(h);
          // A removed name can be written again (prune, then a later backup of the same pack).
          await b.save(h, data);
          assert.deepEqual(Buffer.from(await b.load(h)), Buffer.from(data));
        }
      }));

    it('finds no leftovers after saves that completed, and removing them keeps every object', () =>
      withBackend(async (b) => {
        const objects: Handle[] = [];
        for (const [type, text] of [['data', 'a pack'], ['index', 'an index'], ['snapshots', 'a snapshot'], ['keys', 'a key'], ['locks', 'a lock']] as const) {
          const data = bytes(text);
          objects.push({ type, name: nameOf(data) });
          await b.save(objects[objects.length - 1], data);
        }
        assert.deepEqual(await b.removeLeftovers(true), { files: 0, bytes: 0 });
        assert.deepEqual(await b.removeLeftovers(false), { files: 0, bytes: 0 });
        for (const h of objects) await b.stat(h);
      }));
  });
}
