import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { AlreadyExistsError, Backend, FileType, Handle, NotFoundError, Leftovers, ObjectInfo, PermanentError, StoreNotFoundError } from './backend.js';
import { Semaphore } from './concurrency.js';

export interface S3Location {
  /** Custom endpoint (an S3-compatible server); absent for AWS. */
  endpoint?: string;
  bucket: string;
  /** Key prefix without leading or trailing slash; '' for the bucket root. */
  prefix: string;
  /** Address the bucket in the path (`host/bucket/key`) instead of the host name. */
  pathStyle: boolean;
}

/**
 * Parses `s3://bucket/prefix` (AWS) and `s3:http(s)://host[:port]/bucket/prefix`
 * (an S3-compatible server, which implies path-style addressing).
 */
export function parseS3Url(url: string): S3Location {
  if (url.startsWith('s3://')) {
    const { bucket, prefix } = splitBucketPath(url.slice('s3://'.length), url);
    return { bucket, prefix, pathStyle: false };
  }
  const m = /^s3:(https?):\/\/([^/]*)(\/.*)?$/.exec(url);
  if (!m) throw new Error(`invalid S3 location "${url}": expected s3://bucket/prefix or s3:https://host[:port]/bucket/prefix`);
  const [, scheme, host, rest] = m;
  if (host.includes('@')) throw new Error(`invalid S3 location "${url}": do not put credentials in the URL; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE`);
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(host)) throw new Error(`invalid S3 location "${url}": bad host "${host}"`);
  const { bucket, prefix } = splitBucketPath((rest ?? '').replace(/^\//, ''), url);
  return { endpoint: `${scheme}://${host}`, bucket, prefix, pathStyle: true };
}

function splitBucketPath(path: string, url: string): { bucket: string; prefix: string } {
  const slash = path.indexOf('/');
  const bucket = slash < 0 ? path : path.slice(0, slash);
  const prefix = slash < 0 ? '' : path.slice(slash + 1).replace(/^\/+|\/+$/g, '');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new Error(`invalid S3 location "${url}": bucket name "${bucket}" must be 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit`);
  }
  if (prefix && prefix.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`invalid S3 location "${url}": prefix "${prefix}" has an empty, '.' or '..' part`);
  }
  return { bucket, prefix };
}

export interface S3Options {
  /** Storage class for pack files (`data/`) only; everything else stays STANDARD so it is cheap and quick to read. */
  storageClass?: string;
  /** Requests in flight at once (default 5). */
  connections?: number;
  region?: string;
  /** Overrides the SDK's default credential chain; meant for tests. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

const REQUEST_TIMEOUT_MS = 60_000;
const IDLE_SOCKET_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 5_000;

export class S3Backend implements Backend {
  private readonly client: S3Client;
  private readonly requests: Semaphore;
  private readonly storageClass?: StorageClass;

  constructor(private readonly loc: S3Location, private readonly options: S3Options = {}) {
    const connections = options.connections ?? 5;
    this.requests = new Semaphore(connections);
    this.storageClass = options.storageClass as StorageClass | undefined;
    this.client = new S3Client({
      endpoint: loc.endpoint,
      forcePathStyle: loc.pathStyle,
      // A self-hosted server does not care about the region, but the signature needs one.
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (loc.endpoint ? 'us-east-1' : undefined),
      followRegionRedirects: !loc.endpoint,
      credentials: options.credentials,
      // RetryBackend retries with its own backoff and counts the retries; retrying here
      // as well would multiply the attempts and hide them from the statistics.
      maxAttempts: 1,
      // cairn checks what it reads itself (every blob is authenticated, packs by their
      // SHA-256 name), and sends its own SHA-256 on writes: the SDK's CRC32s and response
      // hashing would be a second pass over every byte on the main thread.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: CONNECT_TIMEOUT_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
        throwOnRequestTimeout: true,
        socketTimeout: IDLE_SOCKET_TIMEOUT_MS,
        httpAgent: { keepAlive: true, maxSockets: connections },
        httpsAgent: { keepAlive: true, maxSockets: connections },
      },
    });
  }

  location(): string {
    const where = this.loc.endpoint ? `s3:${this.loc.endpoint}/${this.loc.bucket}` : `s3://${this.loc.bucket}`;
    return this.loc.prefix ? `${where}/${this.loc.prefix}` : where;
  }

  async create(): Promise<void> {
    let LocationConstraint: BucketLocationConstraint | undefined;
    if (!this.loc.endpoint) {
      const region = await this.client.config.region();
      // us-east-1 is the default and AWS rejects it when named explicitly.
      if (region !== 'us-east-1') LocationConstraint = region as BucketLocationConstraint;
    }
    try {
      await this.requests.run(() =>
        this.client.send(new CreateBucketCommand({ Bucket: this.loc.bucket, CreateBucketConfiguration: LocationConstraint ? { LocationConstraint } : undefined })),
      );
    } catch (err) {
      if (errorName(err) === 'BucketAlreadyOwnedByYou') return;
      if (errorName(err) === 'BucketAlreadyExists') {
        throw new PermanentError(`bucket "${this.loc.bucket}" already exists and belongs to someone else: choose another bucket name`, { cause: err });
      }
      throw this.translate(err, undefined);
    }
  }

  async isRepository(): Promise<boolean> {
    try {
      await this.stat({ type: 'config', name: '' });
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    // The body's SHA-256 goes into the signature (x-amz-content-sha256) and into the
    // x-amz-checksum-sha256 header: AWS and Ceph RGW refuse a body that does not match
    // either. Objects named by their SHA-256 need no hashing for it (the name is the
    // hash, and a wrong name is refused like damage); hashing a 16 MiB pack again on the
    // main thread, and MD5 on top, cost about 4 s of CPU per GiB uploaded.
    const sha256 = namedByContent(h) ? h.name : createHash('sha256').update(data).digest('hex');
    const put = new PutObjectCommand({
      Bucket: this.loc.bucket,
      Key: this.key(h),
      Body: data,
      ContentLength: data.length,
      ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64'),
      // Objects are immutable; the server enforces it atomically. Locks are refreshed in place.
      IfNoneMatch: h.type === 'locks' ? undefined : '*',
      StorageClass: h.type === 'data' ? this.storageClass : undefined,
    });
    // The signer takes a payload hash already in the headers instead of computing it.
    put.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = sha256;
        return next(args);
      },
      { step: 'build', name: 'cairnPayloadHash' },
    );
    try {
      await this.requests.run(() => this.client.send(put));
    } catch (err) {
      if (errorName(err) === 'PreconditionFailed' || httpStatus(err) === 412) throw new AlreadyExistsError(h, this.location());
      if (errorName(err) === 'NotImplemented') {
        throw new PermanentError(`the S3 server at ${this.location()} does not support conditional writes (If-None-Match), which cairn needs to keep objects immutable`, { cause: err });
      }
      throw this.translate(err, h);
    }
  }

  async load(h: Handle, offset = 0, length?: number): Promise<Uint8Array> {
    if (!Number.isInteger(offset) || offset < 0 || (length !== undefined && (!Number.isInteger(length) || length < 0))) {
      throw new RangeError(`invalid range offset=${offset} length=${length} for ${h.type}/${h.name}`);
    }
    if (length === 0) {
      await this.stat(h);
      return new Uint8Array(0);
    }
    const ranged = offset > 0 || length !== undefined;
    const Range = ranged ? `bytes=${offset}-${length === undefined ? '' : offset + length - 1}` : undefined;
    try {
      return await this.requests.run(async () => {
        const res = await this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: this.key(h), Range }));
        if (!res.Body) throw new Error(`empty response body for ${h.type}/${h.name} from ${this.location()}`);
        const announced = res.ContentLength;
        const bytes = announced === undefined ? await res.Body.transformToByteArray() : await readBody(res.Body as Readable, announced);
        // A connection closed early can end the stream without an error; a short body
        // must not pass as the object's content.
        if (announced !== undefined && bytes.length !== announced) {
          throw Object.assign(new Error(`short read of ${h.type}/${h.name}: got ${bytes.length} of ${announced} bytes`), { code: 'ECONNRESET' });
        }
        return bytes;
      });
    } catch (err) {
      // Reading at or past the end yields nothing, as for the other backends.
      if (ranged && (errorName(err) === 'InvalidRange' || httpStatus(err) === 416)) return new Uint8Array(0);
      throw await this.translateMissing(err, h);
    }
  }

  async stat(h: Handle): Promise<ObjectInfo> {
    try {
      const res = await this.requests.run(() => this.client.send(new HeadObjectCommand({ Bucket: this.loc.bucket, Key: this.key(h) })));
      return { name: h.name, size: res.ContentLength ?? 0 };
    } catch (err) {
      throw await this.translateMissing(err, h);
    }
  }

  async *list(type: FileType): AsyncIterable<ObjectInfo> {
    const base = this.typePrefix(type);
    const Prefix = type === 'config' ? base : `${base}/`;
    let token: string | undefined;
    const seenTokens = new Set<string>();
    for (;;) {
      let page;
      try {
        page = await this.requests.run(() =>
          this.client.send(new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix, ContinuationToken: token })),
        );
      } catch (err) {
        throw this.translate(err, undefined);
      }
      for (const obj of page.Contents ?? []) {
        const name = obj.Key === undefined ? undefined : nameFromKey(type, obj.Key.slice(Prefix.length), obj.Key === base);
        if (name !== undefined) yield { name, size: obj.Size ?? 0 };
      }
      if (!page.IsTruncated) return;
      token = page.NextContinuationToken;
      // A server that repeats a token (or gives none) would otherwise make this loop forever.
      if (!token || seenTokens.has(token)) throw new Error(`S3 listing of ${this.location()}/${type} did not advance (continuation token repeated or missing)`);
      seenTokens.add(token);
    }
  }

  async remove(h: Handle): Promise<void> {
    try {
      await this.requests.run(() => this.client.send(new DeleteObjectCommand({ Bucket: this.loc.bucket, Key: this.key(h) })));
    } catch (err) {
      if (errorName(err) === 'NoSuchKey') return;
      throw this.translate(err, h);
    }
  }

  /** A PUT stores a whole object or nothing. */
  async removeLeftovers(): Promise<Leftovers> {
    return { files: 0, bytes: 0 };
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private typePrefix(type: FileType): string {
    return this.loc.prefix ? `${this.loc.prefix}/${type}` : type;
  }

  private key(h: Handle): string {
    if (h.type === 'config') return this.typePrefix('config');
    if (!/^[A-Za-z0-9._-]+$/.test(h.name) || h.name === '.' || h.name === '..') throw new RangeError(`invalid object name "${h.name}" for ${h.type}`);
    if (h.type === 'data') return `${this.typePrefix('data')}/${h.name.slice(0, 2)}/${h.name}`;
    return `${this.typePrefix(h.type)}/${h.name}`;
  }

  /**
   * A HEAD on a missing bucket answers 404 without a body, exactly like a missing
   * object; only asking about the bucket tells the two apart.
   */
  private async translateMissing(err: unknown, h: Handle): Promise<unknown> {
    const name = errorName(err);
    if (name !== 'NoSuchKey' && name !== 'NotFound') return this.translate(err, h);
    if (name === 'NotFound') {
      try {
        await this.requests.run(() => this.client.send(new HeadBucketCommand({ Bucket: this.loc.bucket })));
      } catch (bucketErr) {
        if (httpStatus(bucketErr) === 404) return this.noSuchBucket(bucketErr);
        return this.translate(bucketErr, h);
      }
    }
    return new NotFoundError(h, this.location());
  }

  private noSuchBucket(cause: unknown): StoreNotFoundError {
    const at = this.loc.endpoint ? ` at ${this.loc.endpoint}` : '';
    return new StoreNotFoundError(`S3 bucket "${this.loc.bucket}" does not exist${at}: check the repository location, or run init to create it`, { cause });
  }

  /** Turns failures that retrying cannot fix into PermanentError; leaves the rest to the retry wrapper. */
  private translate(err: unknown, h: Handle | undefined): unknown {
    const name = errorName(err);
    const status = httpStatus(err);
    const what = h ? `${h.type === 'config' ? 'config' : `${h.type}/${h.name}`} in ` : '';
    if (name === 'NoSuchBucket') return this.noSuchBucket(err);
    if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'AccessDenied' || name === 'Forbidden' || status === 403) {
      return new PermanentError(
        `S3 refused access to ${what}bucket "${this.loc.bucket}"${this.loc.endpoint ? ` at ${this.loc.endpoint}` : ''} (${name && name !== 'Unknown' ? name : `HTTP ${status}`}): ` +
          'check the access key and secret (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or the profile named by AWS_PROFILE) and that this key may use the bucket',
        { cause: err },
      );
    }
    if (name === 'CredentialsProviderError') {
      return new PermanentError(`no S3 credentials found for bucket "${this.loc.bucket}": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE`, { cause: err });
    }
    if (err instanceof Error && /region is missing/i.test(err.message)) {
      return new PermanentError(`no AWS region configured for bucket "${this.loc.bucket}": set AWS_REGION or the profile's region`, { cause: err });
    }
    // The server saw a body other than the one sent: damage on the way, worth a retry.
    if (name === 'BadDigest' || name === 'XAmzContentSHA256Mismatch') return err;
    // Other client errors (bad argument, too large, invalid storage class...) will not
    // change on a retry; 408, 409 and 429 are the exceptions that can.
    if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 409 && status !== 429) {
      return new PermanentError(`S3 request for ${what}${this.location()} failed: ${name} (HTTP ${status}): ${(err as Error).message}`, { cause: err });
    }
    return err;
  }
}

/** Maps a key below the type's prefix back to the object name, or undefined for stray keys. */
function nameFromKey(type: FileType, rest: string, isConfig: boolean): string | undefined {
  if (type === 'config') return isConfig ? '' : undefined;
  if (type === 'data') {
    const m = /^([0-9a-f]{2})\/([^/]+)$/.exec(rest);
    return m && m[2].startsWith(m[1]) ? m[2] : undefined;
  }
  return rest && !rest.includes('/') ? rest : undefined;
}

/** Everything but config and locks is named by the lowercase hex SHA-256 of its bytes (FORMAT.md). */
function namedByContent(h: Handle): boolean {
  return h.type !== 'config' && h.type !== 'locks' && /^[0-9a-f]{64}$/.test(h.name);
}

function errorName(err: unknown): string {
  return (err as { name?: string })?.name ?? '';
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/**
 * A response body read into one buffer of the announced size. The SDK's own collector
 * keeps the chunks and then copies them into a fresh zero-filled buffer: in a restore
 * from S3 that was half a second of the main thread's CPU per 550 MiB of packs. Chunks
 * are taken from 'data' events: an async iterator costs a promise per 64 KiB.
 * Resolves with what arrived, possibly fewer bytes, so that the caller reports a short
 * read; more bytes than announced are an error as well.
 */
function readBody(body: Readable, announced: number): Promise<Uint8Array> {
  const out = new Uint8Array(Buffer.allocUnsafeSlow(announced).buffer, 0, announced);
  let at = 0;
  return new Promise((resolve, reject) => {
    body.on('data', (chunk: Uint8Array) => {
      if (at + chunk.length > announced) {
        body.destroy(Object.assign(new Error(`the response body is longer than the ${announced} bytes announced`), { code: 'ECONNRESET' }));
        return;
      }
      out.set(chunk, at);
      at += chunk.length;
    });
    body.once('error', reject);
    // 'close' without 'end' when the connection closed early.
    const done = () => resolve(out.subarray(0, at));
    body.once('end', done);
    body.once('close', done);
  });
}
