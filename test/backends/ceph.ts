import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { promisify } from 'node:util';

export interface TestS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

const START_SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/ceph/start-ceph.sh');

let started: Promise<TestS3> | undefined;

/**
 * The S3 server for tests: the one named by CAIRN_TEST_S3_ENDPOINT, or a local Ceph
 * that start-ceph.sh starts (or reuses). Fails loudly when there is none: S3 tests
 * that quietly skip would let a broken backend through CI.
 */
export function testS3(): Promise<TestS3> {
  started ??= locate();
  return started;
}

async function locate(): Promise<TestS3> {
  let env: Record<string, string | undefined> = process.env;
  if (!env.CAIRN_TEST_S3_ENDPOINT) {
    try {
      const { stdout } = await promisify(execFile)('bash', [START_SCRIPT], { timeout: 150_000 });
      env = Object.fromEntries(stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(
        `no S3 server for the tests: set CAIRN_TEST_S3_ENDPOINT (with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), ` +
          `or let ${START_SCRIPT} start Ceph (needs root and the Debian packages ceph-mon ceph-osd radosgw): ${e.stderr?.trim() || e.message}`,
      );
    }
  }
  const { CAIRN_TEST_S3_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  if (!endpoint || !accessKeyId || !secretAccessKey) throw new Error('S3 test server settings incomplete: need CAIRN_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  // The backend under test finds them through the SDK's default credential chain.
  process.env.AWS_ACCESS_KEY_ID = accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = secretAccessKey;
  process.env.AWS_REGION ??= 'us-east-1';
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
  return { endpoint, accessKeyId, secretAccessKey };
}

/** A bucket name no other test (or earlier run against a reused server) has used. */
export function uniqueBucket(label: string): string {
  return `cairn-${label}-${randomBytes(5).toString('hex')}`;
}
