import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argon2id } from 'hash-wasm';
import { deriveKey, kdfKind, newKdfParams, DEFAULT_KDF, type KdfParams } from '../../crypto/kdf.js';

const weak = (over: Partial<KdfParams> = {}): KdfParams =>
  ({ ...newKdfParams({ memoryKiB: 64, iterations: 1, parallelism: 1 }), ...over });

test('defaults are Argon2id with 64 MiB, 3 passes, 1 lane, and a random 16-byte salt', () => {
  const saved = process.env.CAIRN_TEST_WEAK_KDF;
  delete process.env.CAIRN_TEST_WEAK_KDF;
  try {
    const a = newKdfParams();
    const b = newKdfParams();
    assert.equal(a.name, 'argon2id');
    assert.equal(a.memoryKiB, 65536);
    assert.equal(a.iterations, 3);
    assert.equal(a.parallelism, 1);
    assert.deepEqual({ memoryKiB: a.memoryKiB, iterations: a.iterations, parallelism: a.parallelism }, DEFAULT_KDF);
    assert.equal(Buffer.from(a.salt, 'base64').length, 16);
    assert.notEqual(a.salt, b.salt);
  } finally {
    if (saved !== undefined) process.env.CAIRN_TEST_WEAK_KDF = saved;
  }
});

test('CAIRN_TEST_WEAK_KDF=1 makes new parameters weak', () => {
  const saved = process.env.CAIRN_TEST_WEAK_KDF;
  process.env.CAIRN_TEST_WEAK_KDF = '1';
  try {
    const p = newKdfParams();
    assert.equal(p.memoryKiB, 64);
    assert.equal(p.iterations, 1);
  } finally {
    if (saved === undefined) delete process.env.CAIRN_TEST_WEAK_KDF;
    else process.env.CAIRN_TEST_WEAK_KDF = saved;
  }
});

test('deriveKey gives 32 bytes, is deterministic, and depends on password and salt', async () => {
  const p = weak();
  const k = await deriveKey('correct horse', p);
  assert.equal(k.length, 32);
  assert.deepEqual(await deriveKey('correct horse', p), k);
  assert.notDeepEqual(await deriveKey('correct horsf', p), k);
  assert.notDeepEqual(await deriveKey('correct horse', weak()), k);
  assert.notDeepEqual(await deriveKey('correct horse', { ...p, iterations: 2 }), k);
});

for (const kind of ['native', 'wasm'] as const) {
  test(`${kind}: deriveKey is plain Argon2id of the password and decoded salt`, async () => {
    for (const [memoryKiB, iterations, parallelism] of [[128, 2, 2], [64, 1, 1], [1024, 3, 1]]) {
      const p = weak({ memoryKiB, iterations, parallelism });
      const expected = await argon2id({
        password: 'pw', salt: Buffer.from(p.salt, 'base64'), memorySize: memoryKiB, iterations, parallelism,
        hashLength: 32, outputType: 'hex',
      });
      assert.equal(Buffer.from(await deriveKey('pw', p, kind)).toString('hex'), expected, `m=${memoryKiB} t=${iterations} p=${parallelism}`);
    }
  });
}

for (const kind of ['native', 'wasm'] as const) {
  test(`${kind}: deriveKey runs its meanwhile task once, while the key is still being derived`, async () => {
    let runs = 0;
    let derived = false;
    const deriving = deriveKey('pw', weak({ memoryKiB: 8192 }), kind, () => {
      runs++;
      assert.equal(derived, false, 'the task ran after the key was derived');
    });
    void deriving.then(() => (derived = true));
    assert.equal(runs, 1, 'the task runs as soon as the derivation is under way');
    assert.equal((await deriving).length, 32);
    assert.equal(runs, 1);
  });
}

test('the native Argon2id is the one used here', () => {
  // The platforms CI runs on have the prebuilt binary; a fallback here would hide a lost speed-up.
  assert.equal(kdfKind(), 'native');
});

test('the default parameters give the same key natively and in WASM, for a non-ASCII password', async () => {
  const p = newKdfParams({ ...DEFAULT_KDF });
  assert.deepEqual(await deriveKey('pässword', p, 'native'), await deriveKey('pässword', p, 'wasm'));
});

test('bad parameters are rejected with an error naming the field', async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ name: 'scrypt' }, /name/],
    [{ memoryKiB: 4 }, /memoryKiB/],
    [{ memoryKiB: 4 * 1024 * 1024 + 1 }, /memoryKiB/],
    [{ memoryKiB: 1e12 }, /memoryKiB/],
    [{ memoryKiB: 64.5 }, /memoryKiB/],
    [{ memoryKiB: '64' }, /memoryKiB/],
    [{ iterations: 0 }, /iterations/],
    [{ iterations: 101 }, /iterations/],
    [{ iterations: Infinity }, /iterations/],
    [{ parallelism: 0 }, /parallelism/],
    [{ parallelism: 17 }, /parallelism/],
    [{ memoryKiB: 64, parallelism: 16 }, /memoryKiB/],
    [{ salt: Buffer.alloc(15).toString('base64') }, /salt/],
    [{ salt: Buffer.alloc(65).toString('base64') }, /salt/],
    [{ salt: 'not base64!!' }, /salt/],
    [{ salt: 42 }, /salt/],
  ];
  for (const [over, field] of cases) {
    await assert.rejects(deriveKey('pw', weak(over as Partial<KdfParams>)), field, JSON.stringify(over));
  }
  assert.throws(() => newKdfParams({ iterations: 1000 }), /iterations/);
});
