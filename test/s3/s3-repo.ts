/** Shared by the S3 end-to-end tests: a fresh bucket per test, the CLI's flags, and cleanup. */
import path from 'node:path';
import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { testS3, uniqueBucket } from '../backends/ceph.js';
import { tempDir } from '../helpers.js';

// The tests run on Node 20 like the CLI, which silences the SDK's Node 22 notice the same way.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const PASSWORD_ENV = { CAIRN_PASSWORD: 'correct horse' };

export interface S3Repo {
  endpoint: string;
  bucket: string;
  prefix: string;
  /** The repository URL as a user writes it. */
  url: string;
  dir: string;
  /** --repo and --cache-dir, for every cairn call. */
  g: string[];
}

/** A repository location in a bucket nobody has used; the bucket itself is not created. */
export async function s3Repo(label: string, endpoint?: string): Promise<S3Repo> {
  const server = await testS3();
  const bucket = uniqueBucket(label);
  const prefix = 'repo/main';
  const via = endpoint ?? server.endpoint;
  const url = `s3:${via}/${bucket}/${prefix}`;
  const dir = await tempDir('cairn-s3-');
  return { endpoint: server.endpoint, bucket, prefix, url, dir, g: ['--repo', url, '--cache-dir', path.join(dir, 'cache')] };
}

export function s3Client(endpoint: string): S3Client {
  return new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' });
}

/** Every key in a bucket (bounded by the listing's own pagination). */
export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of res.Contents ?? []) if (o.Key) keys.push(o.Key);
    if (!res.IsTruncated) return keys;
    token = res.NextContinuationToken;
  }
  throw new Error(`listing of ${bucket} did not end`);
}

/**
 * Removes a test bucket and everything in it. The test Ceph keeps its data in memory
 * (2 GiB by default), so large tests must not leave their packs behind.
 */
export async function deleteBucket(endpoint: string, bucket: string): Promise<void> {
  const client = s3Client(endpoint);
  try {
    const keys = await listKeys(client, bucket).catch((err) => {
      if ((err as Error).name === 'NoSuchBucket') return undefined;
      throw err;
    });
    if (!keys) return;
    for (let i = 0; i < keys.length; i += 1000) {
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true } }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

/** Parses --json output: one object per line. */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function summaryOf(stdout: string): Record<string, unknown> {
  const s = jsonLines(stdout).find((m) => m.message_type === 'summary');
  if (!s) throw new Error(`no summary line in:\n${stdout.slice(-2000)}`);
  return s;
}
