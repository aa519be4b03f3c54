import http from 'node:http';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
const N = 200, C = 4, mode = process.argv[2], SZ = 4194304;
const agent = new http.Agent({ keepAlive: true, maxSockets: C });
const custom = {
  handle(request) {
    return new Promise((resolve, reject) => {
      const path = request.path + (request.query && Object.keys(request.query).length ? '?' + new URLSearchParams(request.query) : '');
      const req = http.request({ method: request.method, hostname: request.hostname, port: request.port, path, headers: request.headers, agent }, (res) => {
        resolve({ response: { statusCode: res.statusCode, reason: res.statusMessage, headers: res.headers, body: res } });
      });
      req.once('error', reject);
      req.end();
    });
  },
  updateHttpClientConfig() {}, httpHandlerConfigs() { return {}; }, destroy() {},
};
const client = new S3Client({ endpoint: 'http://127.0.0.1:7999', forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1,
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  requestHandler: mode === 'custom' ? custom : { httpAgent: { keepAlive: true, maxSockets: C } } });
function readBody(body, n) { return new Promise((resolve, reject) => { const out = new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n); let at = 0; body.on('data', (c) => { out.set(c, at); at += c.length; }); body.once('end', () => resolve(out)); body.once('error', reject); }); }
async function one() { const res = await client.send(new GetObjectCommand({ Bucket: 'b', Key: 'data/x', Range: `bytes=0-${SZ - 1}` })); return readBody(res.Body, res.ContentLength); }
for (let round = 0; round < 4; round++) {
  const c0 = process.cpuUsage(); const t0 = Date.now(); let i = 0;
  await Promise.all(Array.from({ length: C }, async () => { while (i++ < N) await one(); }));
  const c = process.cpuUsage(c0); console.log(mode, 'wall', Date.now() - t0, 'cpu ms', ((c.user + c.system) / 1000).toFixed(0), 'per GET', ((c.user + c.system) / 1000 / N).toFixed(2));
}
process.exit(0);
