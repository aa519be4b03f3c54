import { prng } from '../disk/tools.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does with one request. */
export type Fault =
  | { kind: 'pass' }
  /** Answer with this status (and an S3 error body) without forwarding. */
  | { kind: 'error'; status: 500 | 503; code: 'InternalError' | 'ServiceUnavailable' | 'SlowDown' }
  /** Forward, then cut the connection after part of the response (before any of it for an empty body). */
  | { kind: 'reset' }
  /** Wait this long, then forward. */
  | { kind: 'delay'; ms: number }
  /** Forward with one byte of the request body flipped (damage on the way in). */
  | { kind: 'corrupt' };

export interface FaultRates {
  /** Share of requests answered 500/503 without reaching the server. */
  error: number;
  /** Share of the errors that are 503 SlowDown (throttling) rather than plain 500/503. */
  slowDown: number;
  /** Share of requests forwarded whose response is cut off. */
  reset: number;
  /** Share of requests delayed by up to maxDelayMs before forwarding. */
  delay: number;
  maxDelayMs: number;
}

export interface FaultProxyOptions {
  /** The real S3 server, e.g. http://127.0.0.1:7480. */
  target: string;
  /** Seed of the pseudo-random fault choice, so a failing run can be repeated. */
  seed?: number;
  rates?: Partial<FaultRates>;
  /** Overrides the random choice entirely, for tests that need one exact fault. */
  choose?: (req: http.IncomingMessage, index: number) => Fault;
}

/** One request as the client sent it, in arrival order. */
export interface RequestRecord {
  method: string;
  /** Path and query, e.g. `/bucket/repo/data/ab/ab12...?x-id=PutObject`. */
  url: string;
  fault: Fault['kind'];
}

export interface FaultCounts {
  requests: number;
  errors: number;
  resets: number;
  delays: number;
}

/**
 * An HTTP proxy between an S3 client and a real S3 server that injects the failures
 * seen in the wild: 5xx answers, throttling, connections dropped mid-response, and slow
 * responses. Requests are forwarded byte for byte (Host header included, so SigV4
 * signatures stay valid).
 */
export class FaultProxy {
  readonly counts: FaultCounts = { requests: 0, errors: 0, resets: 0, delays: 0 };
  /** Every request seen, for tests and benchmarks that count what a client asks for. */
  readonly requests: RequestRecord[] = [];
  private readonly server: http.Server;
  private readonly target: URL;
  private readonly random: () => number;
  private readonly rates: FaultRates;

  constructor(private readonly options: FaultProxyOptions) {
    this.target = new URL(options.target);
    this.random = prng(options.seed ?? 1);
    this.rates = { error: 0, slowDown: 0.3, reset: 0, delay: 0, maxDelayMs: 0, ...options.rates };
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  /** Starts listening on a free loopback port; returns the proxy's URL. */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private choose(req: http.IncomingMessage, index: number): Fault {
    if (this.options.choose) return this.options.choose(req, index);
    const r = this.random();
    const { error, slowDown, reset, delay, maxDelayMs } = this.rates;
    if (r < error) {
      if (this.random() < slowDown) return { kind: 'error', status: 503, code: 'SlowDown' };
      return this.random() < 0.5 ? { kind: 'error', status: 500, code: 'InternalError' } : { kind: 'error', status: 503, code: 'ServiceUnavailable' };
    }
    if (r < error + reset) return { kind: 'reset' };
    if (r < error + reset + delay) return { kind: 'delay', ms: Math.round(this.random() * maxDelayMs) };
    return { kind: 'pass' };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const fault = this.choose(req, this.counts.requests++);
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', fault: fault.kind });
    if (fault.kind === 'error') {
      this.counts.errors++;
      // Read the upload first, as a real server would, so the client sees the answer
      // rather than a write error.
      req.resume();
      req.on('end', () => {
        const body = req.method === 'HEAD' ? '' : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>injected by fault proxy</Message></Error>`;
        res.writeHead(fault.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return;
    }
    if (fault.kind === 'delay') {
      this.counts.delays++;
      setTimeout(() => this.forward(req, res, false), fault.ms);
      return;
    }
    if (fault.kind === 'reset') this.counts.resets++;
    this.forward(req, res, fault.kind === 'reset', fault.kind === 'corrupt');
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, cut: boolean, corrupt = false): void {
    const upstream = http.request(
      { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        const length = Number(up.headers['content-length'] ?? 0);
        if (cut && !(length > 1)) {
          // Nothing to cut into: drop the connection after the server has acted, so the
          // request took effect but the client never learns it (the lost-reply case).
          up.resume();
          up.on('end', () => res.socket?.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (!cut) {
          up.pipe(res);
          return;
        }
        const limit = Math.floor(length / 2);
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (sent >= limit) return;
          const part = chunk.subarray(0, limit - sent);
          sent += part.length;
          const last = sent >= limit;
          res.write(part, () => {
            if (last) res.socket?.destroy();
          });
          if (last) up.destroy();
        });
      },
    );
    upstream.on('error', () => res.socket?.destroy());
    if (!corrupt) {
      req.pipe(upstream);
      return;
    }
    let flipped = false;
    req.on('data', (chunk: Buffer) => {
      if (!flipped && chunk.length > 0) {
        chunk[0] ^= 0x01;
        flipped = true;
      }
      upstream.write(chunk);
    });
    req.on('end', () => upstream.end());
  }
}

