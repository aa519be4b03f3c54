import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { MAX_REQUEST, parseInfoRequest, serveNbd } from '../../mount/nbd.js';
import { ExactReader } from '../../mount/socket-reader.js';
import { pseudoRandom } from '../helpers.js';

const data = pseudoRandom(1 << 20, 5);
const source = { size: data.length, read: async (o: number, l: number) => data.subarray(o, o + l) };

/** A minimal NBD client, to see the server's answers byte by byte. */
async function connect(port: number) {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const r = new ExactReader(sock);
  const hello = await r.read(18);
  assert.equal(hello.subarray(0, 16).toString('latin1'), 'NBDMAGICIHAVEOPT');
  assert.equal(hello.readUInt16BE(16) & 3, 3, 'fixed newstyle and no zeroes');
  const flags = Buffer.alloc(4);
  flags.writeUInt32BE(3);
  sock.write(flags);
  const option = (opt: number, payload: Buffer = Buffer.alloc(0)) => {
    const h = Buffer.alloc(16);
    h.write('IHAVEOPT', 'latin1');
    h.writeUInt32BE(opt, 8);
    h.writeUInt32BE(payload.length, 12);
    sock.write(Buffer.concat([h, payload]));
  };
  const reply = async () => {
    const h = await r.read(20);
    assert.equal(h.readBigUInt64BE(0), 0x3e889045565a9n);
    return { option: h.readUInt32BE(8), type: h.readUInt32BE(12), data: await r.read(h.readUInt32BE(16)) };
  };
  const command = async (type: number, offset: number, length: number, payload: Buffer = Buffer.alloc(0)) => {
    const q = Buffer.alloc(28);
    q.writeUInt32BE(0x25609513, 0);
    q.writeUInt16BE(type, 6);
    q.write('cookie42', 8, 'latin1');
    q.writeBigUInt64BE(BigInt(offset), 16);
    q.writeUInt32BE(length, 24);
    sock.write(Buffer.concat([q, payload]));
    const h = await r.read(16);
    assert.equal(h.readUInt32BE(0), 0x67446698);
    assert.equal(h.subarray(8).toString('latin1'), 'cookie42');
    const error = h.readUInt32BE(4);
    return { error, data: error === 0 && type === 0 ? await r.read(length) : Buffer.alloc(0) };
  };
  return { sock, option, reply, command };
}

function infoRequest(name: string, infos: number[]): Buffer {
  const n = Buffer.from(name);
  const b = Buffer.alloc(4 + n.length + 2 + infos.length * 2);
  b.writeUInt32BE(n.length, 0);
  n.copy(b, 4);
  b.writeUInt16BE(infos.length, 4 + n.length);
  infos.forEach((t, i) => b.writeUInt16BE(t, 6 + n.length + 2 * i));
  return b;
}

test('NBD: list, info, go, reads, and writes refused', async () => {
  const server = await serveNbd({ name: 'abcd1234', description: 'test image', source }, '127.0.0.1', 0);
  try {
    const c = await connect(server.port);
    c.option(3); // LIST
    const listed = await c.reply();
    assert.equal(listed.type, 2);
    assert.equal(listed.data.subarray(4).toString(), 'abcd1234');
    assert.equal((await c.reply()).type, 1);

    c.option(6, infoRequest('nope', [])); // INFO for an unknown export
    assert.equal((await c.reply()).type, 0x80000006);

    c.option(99);
    assert.equal((await c.reply()).type, 0x80000001, 'unknown options are unsupported, not fatal');

    c.option(7, infoRequest('abcd1234', [3, 2])); // GO, asking for block size and description
    const infos = [];
    for (let rep = await c.reply(); rep.type !== 1; rep = await c.reply()) {
      assert.equal(rep.type, 3);
      infos.push(rep.data);
    }
    const exp = infos.find((d) => d.readUInt16BE(0) === 0)!;
    assert.equal(Number(exp.readBigUInt64BE(2)), data.length);
    assert.equal(exp.readUInt16BE(10) & 3, 3, 'has flags, read-only');
    const bs = infos.find((d) => d.readUInt16BE(0) === 3)!;
    assert.deepEqual([bs.readUInt32BE(2), bs.readUInt32BE(6), bs.readUInt32BE(10)], [1, 4096, MAX_REQUEST]);
    assert.equal(infos.find((d) => d.readUInt16BE(0) === 2)!.subarray(2).toString(), 'test image');

    const read = await c.command(0, 12345, 70000);
    assert.equal(read.error, 0);
    assert.deepEqual(read.data, data.subarray(12345, 12345 + 70000));
    assert.equal((await c.command(1, 0, 512, Buffer.alloc(512))).error, 1, 'write: EPERM');
    assert.equal((await c.command(0, data.length - 10, 20)).error, 22, 'read past the end: EINVAL');
    assert.equal((await c.command(0, 0, 16)).error, 0, 'still in step after a refused write');
    const q = Buffer.alloc(28);
    q.writeUInt32BE(0x25609513, 0);
    q.writeUInt16BE(2, 6); // DISC
    c.sock.write(q);
    await new Promise((r) => c.sock.once('close', r));
  } finally {
    await server.close();
  }
});

test('NBD: abort, and garbage from a client ends only that connection', async () => {
  const server = await serveNbd({ name: 'x', description: '', source }, '127.0.0.1', 0);
  try {
    const c = await connect(server.port);
    c.option(2);
    assert.equal((await c.reply()).type, 1);
    await new Promise((r) => c.sock.once('close', r));

    const bad = await connect(server.port);
    bad.sock.write(Buffer.alloc(64, 0xee));
    await new Promise((r) => bad.sock.once('close', r));

    const again = await connect(server.port);
    again.option(7, infoRequest('', []));
    for (let rep = await again.reply(); rep.type !== 1; rep = await again.reply());
    assert.deepEqual((await again.command(0, 0, 100)).data, data.subarray(0, 100));
    again.sock.destroy();
  } finally {
    await server.close();
  }
});

test('NBD_OPT_GO data is parsed strictly', () => {
  assert.deepEqual(parseInfoRequest(infoRequest('disk', [3, 1])), { name: 'disk', requests: [3, 1] });
  assert.equal(parseInfoRequest(Buffer.from([0, 0, 0, 9, 1])), undefined);
  assert.equal(parseInfoRequest(Buffer.concat([infoRequest('a', [1]), Buffer.from([0])])), undefined);
});
