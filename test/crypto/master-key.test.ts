import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newMasterKey, encodeMasterKey, decodeMasterKey, wipe } from '../../crypto/master-key.js';

test('new master keys are two independent random 32-byte keys', () => {
  const a = newMasterKey();
  const b = newMasterKey();
  assert.equal(a.encrypt.length, 32);
  assert.equal(a.blobId.length, 32);
  assert.notDeepEqual(a.encrypt, a.blobId);
  assert.notDeepEqual(a.encrypt, b.encrypt);
});

test('encode/decode round-trips and decode copies out of the input', () => {
  const k = newMasterKey();
  const bytes = encodeMasterKey(k);
  assert.equal(bytes.length, 64);
  assert.deepEqual(bytes.subarray(0, 32), k.encrypt);
  const d = decodeMasterKey(bytes);
  assert.deepEqual(d, k);
  wipe(bytes);
  assert.deepEqual(d, k);
});

test('decode rejects the wrong length', () => {
  for (const n of [0, 32, 63, 65]) assert.throws(() => decodeMasterKey(new Uint8Array(n)), /64 bytes/);
});

test('wipe zero-fills every array', () => {
  const k = newMasterKey();
  wipe(k.encrypt, k.blobId);
  assert.deepEqual(k.encrypt, new Uint8Array(32));
  assert.deepEqual(k.blobId, new Uint8Array(32));
});
