/**
 * A read-only NBD server (the protocol of NetworkBlockDevice's proto.md): fixed newstyle
 * handshake with NBD_OPT_EXPORT_NAME, NBD_OPT_INFO, NBD_OPT_GO, NBD_OPT_LIST and
 * NBD_OPT_ABORT; simple replies; NBD_CMD_READ and NBD_CMD_DISC. Writes get EPERM, and the
 * export is flagged read-only.
 */
import net from 'node:net';
import type { ReadAt } from '../disk/source.js';
import { ConnectionClosed, ExactReader } from './socket-reader.js';

const NBDMAGIC = 0x4e42444d41474943n;
const IHAVEOPT = 0x49484156454f5054n;
const OPT_REPLY_MAGIC = 0x3e889045565a9n;
const REQUEST_MAGIC = 0x25609513;
const SIMPLE_REPLY_MAGIC = 0x67446698;

const FLAG_FIXED_NEWSTYLE = 1;
const FLAG_NO_ZEROES = 2;

const OPT = { EXPORT_NAME: 1, ABORT: 2, LIST: 3, INFO: 6, GO: 7 } as const;
const REP = { ACK: 1, SERVER: 2, INFO: 3, ERR_UNSUP: 0x80000001, ERR_INVALID: 0x80000003, ERR_UNKNOWN: 0x80000006 } as const;
const INFO = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;
const CMD = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6 } as const;
const ERR = { EPERM: 1, EIO: 5, EINVAL: 22 } as const;

const TRANSMISSION_FLAGS = 1 /* HAS_FLAGS */ | 2 /* READ_ONLY */ | (1 << 8); /* CAN_MULTI_CONN: nothing changes, so connections agree */
/** Largest request served; the client learns it from NBD_INFO_BLOCK_SIZE. */
export const MAX_REQUEST = 32 * 1024 * 1024;
const MAX_OPTION_DATA = 64 * 1024;
const MAX_OPTIONS = 1000;

export interface NbdExport {
  name: string;
  description: string;
  source: ReadAt;
}

function optReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(20);
  h.writeBigUInt64BE(OPT_REPLY_MAGIC, 0);
  h.writeUInt32BE(option, 8);
  h.writeUInt32BE(type, 12);
  h.writeUInt32BE(data.length, 16);
  return Buffer.concat([h, data]);
}

function infoExport(size: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(INFO.EXPORT, 0);
  b.writeBigUInt64BE(BigInt(size), 2);
  b.writeUInt16BE(TRANSMISSION_FLAGS, 10);
  return b;
}

function infoBlockSize(): Buffer {
  const b = Buffer.alloc(14);
  b.writeUInt16BE(INFO.BLOCK_SIZE, 0);
  b.writeUInt32BE(1, 2); // any alignment works
  b.writeUInt32BE(4096, 6);
  b.writeUInt32BE(MAX_REQUEST, 10);
  return b;
}

function infoText(type: number, text: string): Buffer {
  return Buffer.concat([Buffer.from([0, type]), Buffer.from(text)]);
}

function simpleReply(error: number, cookie: Buffer, data?: Uint8Array): Buffer[] {
  const h = Buffer.alloc(16);
  h.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  h.writeUInt32BE(error, 4);
  cookie.copy(h, 8);
  return data ? [h, Buffer.from(data.buffer, data.byteOffset, data.byteLength)] : [h];
}

class ProtocolError extends Error {}

/** Handles one client from handshake to disconnect. */
export async function serveConnection(sock: net.Socket, exp: NbdExport, log: (line: string) => void = () => {}): Promise<void> {
  const r = new ExactReader(sock);
  const send = (b: Buffer) => new Promise<void>((resolve, reject) => sock.write(b, (err) => (err ? reject(err) : resolve())));
  try {
    const hello = Buffer.alloc(18);
    hello.writeBigUInt64BE(NBDMAGIC, 0);
    hello.writeBigUInt64BE(IHAVEOPT, 8);
    hello.writeUInt16BE(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, 16);
    await send(hello);
    const clientFlags = (await r.read(4)).readUInt32BE(0);
    if (!(clientFlags & FLAG_FIXED_NEWSTYLE)) throw new ProtocolError('the client does not speak fixed newstyle');
    const noZeroes = !!(clientFlags & FLAG_NO_ZEROES);
    if (await negotiate(r, send, exp, noZeroes)) await transmit(r, sock, exp.source);
  } catch (err) {
    if (!(err instanceof ConnectionClosed)) log(`nbd: ${(err as Error).message}`);
  } finally {
    sock.end();
  }
}

/** Option haggling; true when the client moves on to transmission. */
async function negotiate(r: ExactReader, send: (b: Buffer) => Promise<void>, exp: NbdExport, noZeroes: boolean): Promise<boolean> {
  const known = (name: string) => name === '' || name === exp.name;
  for (let i = 0; i < MAX_OPTIONS; i++) {
    const head = await r.read(16);
    if (head.readBigUInt64BE(0) !== IHAVEOPT) throw new ProtocolError('bad option magic');
    const option = head.readUInt32BE(8);
    const len = head.readUInt32BE(12);
    if (len > MAX_OPTION_DATA) throw new ProtocolError(`option data of ${len} bytes`);
    const data = await r.read(len);
    switch (option) {
      case OPT.EXPORT_NAME: {
        if (!known(data.toString())) return false; // the old-style option can only say no by hanging up
        const b = Buffer.alloc(noZeroes ? 10 : 134);
        b.writeBigUInt64BE(BigInt(exp.source.size), 0);
        b.writeUInt16BE(TRANSMISSION_FLAGS, 8);
        await send(b);
        return true;
      }
      case OPT.ABORT:
        await send(optReply(option, REP.ACK));
        return false;
      case OPT.LIST: {
        if (len !== 0) {
          await send(optReply(option, REP.ERR_INVALID));
          break;
        }
        const name = Buffer.from(exp.name);
        const body = Buffer.alloc(4 + name.length);
        body.writeUInt32BE(name.length, 0);
        name.copy(body, 4);
        await send(Buffer.concat([optReply(option, REP.SERVER, body), optReply(option, REP.ACK)]));
        break;
      }
      case OPT.INFO:
      case OPT.GO: {
        const parsed = parseInfoRequest(data);
        if (!parsed) {
          await send(optReply(option, REP.ERR_INVALID));
          break;
        }
        if (!known(parsed.name)) {
          await send(optReply(option, REP.ERR_UNKNOWN, Buffer.from(`no export named "${parsed.name}"; this server exports "${exp.name}"`)));
          break;
        }
        // Block sizes are sent unasked: the protocol allows it, and clients then keep requests small.
        const replies = [optReply(option, REP.INFO, infoExport(exp.source.size)), optReply(option, REP.INFO, infoBlockSize())];
        if (parsed.requests.includes(INFO.NAME)) replies.push(optReply(option, REP.INFO, infoText(INFO.NAME, exp.name)));
        if (parsed.requests.includes(INFO.DESCRIPTION)) replies.push(optReply(option, REP.INFO, infoText(INFO.DESCRIPTION, exp.description)));
        replies.push(optReply(option, REP.ACK));
        await send(Buffer.concat(replies));
        if (option === OPT.GO) return true;
        break;
      }
      default:
        await send(optReply(option, REP.ERR_UNSUP));
    }
  }
  throw new ProtocolError(`more than ${MAX_OPTIONS} options`);
}

/** NBD_OPT_INFO/GO data: u32 name length, name, u16 count, u16 info types. */
export function parseInfoRequest(data: Buffer): { name: string; requests: number[] } | undefined {
  if (data.length < 6) return undefined;
  const nameLen = data.readUInt32BE(0);
  if (4 + nameLen + 2 > data.length) return undefined;
  const name = data.subarray(4, 4 + nameLen).toString();
  const count = data.readUInt16BE(4 + nameLen);
  if (data.length !== 4 + nameLen + 2 + 2 * count) return undefined;
  const requests = Array.from({ length: count }, (_, i) => data.readUInt16BE(4 + nameLen + 2 + 2 * i));
  return { name, requests };
}

async function transmit(r: ExactReader, sock: net.Socket, source: ReadAt): Promise<void> {
  // Requests are answered in order; replies may be queued while the next request is read.
  for (;;) {
    const req = await r.read(28);
    if (req.readUInt32BE(0) !== REQUEST_MAGIC) throw new ProtocolError('bad request magic');
    const type = req.readUInt16BE(6);
    const cookie = req.subarray(8, 16);
    const offset = Number(req.readBigUInt64BE(16));
    const length = req.readUInt32BE(24);
    const reply = (error: number, data?: Uint8Array) => {
      for (const b of simpleReply(error, cookie, data)) sock.write(b);
    };
    switch (type) {
      case CMD.READ: {
        if (length > MAX_REQUEST || offset + length > source.size) {
          reply(ERR.EINVAL);
          break;
        }
        let data: Uint8Array;
        try {
          data = await source.read(offset, length);
        } catch {
          reply(ERR.EIO);
          break;
        }
        if (data.length !== length) reply(ERR.EIO);
        else reply(0, data);
        break;
      }
      case CMD.WRITE:
        if (length > MAX_REQUEST) throw new ProtocolError(`a write of ${length} bytes`);
        await r.read(length); // the payload must be consumed to stay in step
        reply(ERR.EPERM);
        break;
      case CMD.TRIM:
      case CMD.WRITE_ZEROES:
        reply(ERR.EPERM);
        break;
      case CMD.FLUSH:
      case CMD.CACHE:
        reply(0);
        break;
      case CMD.DISC:
        return;
      default:
        reply(ERR.EINVAL);
    }
    if (sock.writableLength > 64 * 1024 * 1024) await new Promise((res) => sock.once('drain', res).once('close', res));
  }
}

export interface NbdServer {
  port: number;
  close(): Promise<void>;
}

export async function serveNbd(exp: NbdExport, host: string, port: number, log: (line: string) => void = () => {}): Promise<NbdServer> {
  const conns = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.setNoDelay(true);
    void serveConnection(sock, exp, log);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of conns) s.destroy();
      }),
  };
}
