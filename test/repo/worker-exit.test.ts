import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { closeWorker } from '../../repo/worker-exit.js';
import { tempDir } from '../helpers.js';

const workerExit = new URL('../../repo/worker-exit.js', import.meta.url).href;
const optionalNative = new URL('../../crypto/optional-native.js', import.meta.url).href;

/** A worker running `body` after it has called exitWhenAsked, as cairn's workers do. */
async function startWorker(dir: string, body: string, workerData?: unknown): Promise<Worker> {
  const file = path.join(dir, `worker-${Math.random().toString(36).slice(2)}.mjs`);
  await fs.promises.writeFile(file, `import { parentPort, workerData } from 'node:worker_threads';\nimport { exitWhenAsked } from '${workerExit}';\nexitWhenAsked(parentPort);\n${body}\n`);
  return new Worker(file, { workerData });
}

function exitCode(w: Worker): Promise<number> {
  return new Promise((resolve) => w.once('exit', resolve));
}

it('a worker asked to exit first finishes the task it is in, and its own handler never sees the request', async () => {
  const dir = await tempDir();
  try {
    const w = await startWorker(
      dir,
      `parentPort.on('message', (m) => {
        if (m !== 'task') return parentPort.postMessage('saw ' + m);
        const until = Date.now() + 200;
        while (Date.now() < until);
        parentPort.postMessage('task done');
      });`,
    );
    const seen: string[] = [];
    w.on('message', (m) => seen.push(m));
    const code = exitCode(w);
    w.postMessage('task');
    await closeWorker(w);
    assert.equal(await code, 0, 'a worker that exits by itself ends with code 0; a terminated one ends with 1');
    assert.deepEqual(seen, ['task done']);
  } finally {
    await fs.promises.rm(dir, { recursive: true });
  }
});

it('closing a worker that has already exited resolves at once', async () => {
  const dir = await tempDir();
  try {
    const w = await startWorker(dir, `process.exit(3);`);
    assert.equal(await exitCode(w), 3);
    await closeWorker(w);
  } finally {
    await fs.promises.rm(dir, { recursive: true });
  }
});

it('a worker that never reaches its message handler is terminated after the grace period', async () => {
  const dir = await tempDir();
  try {
    const w = await startWorker(dir, `for (;;);`);
    const code = exitCode(w);
    const started = Date.now();
    await closeWorker(w, 300);
    assert.equal(await code, 1, 'a terminated worker ends with code 1');
    assert.ok(Date.now() - started >= 250, 'the worker was given its grace period');
  } finally {
    await fs.promises.rm(dir, { recursive: true });
  }
});

it('closing workers while they load a native library does not abort the process', { skip: process.platform !== 'linux' ? 'glibc only' : false }, async () => {
  // Each worker flags the moment it starts loading koffi (as preallocate does for
  // fallocate), and is closed a random 0-10 ms later, inside the load's ~10 ms. With
  // Worker.terminate() in place of closeWorker, this aborted the process (SIGABRT,
  // "Error::ThrowAsJavaScriptException napi_throw") within 20 workers in 5 runs of 5.
  const dir = await tempDir();
  try {
    const worker = path.join(dir, 'loads-koffi.mjs');
    await fs.promises.writeFile(
      worker,
      `import { parentPort, workerData } from 'node:worker_threads';
      import { exitWhenAsked } from '${workerExit}';
      import { libcFunction } from '${optionalNative}';
      exitWhenAsked(parentPort);
      const flag = new Int32Array(workerData);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      if (!libcFunction('int fallocate(int fd, int mode, int64_t offset, int64_t len)')) throw new Error('koffi did not load');`,
    );
    const main = path.join(dir, 'main.mjs');
    await fs.promises.writeFile(
      main,
      `import { Worker } from 'node:worker_threads';
      import { closeWorker } from '${workerExit}';
      for (let i = 0; i < 20; i++) {
        const flag = new Int32Array(new SharedArrayBuffer(4));
        const w = new Worker(${JSON.stringify(worker)}, { workerData: flag.buffer });
        let failed;
        w.on('error', (err) => (failed = err));
        Atomics.wait(flag, 0, 0, 10000);
        const until = performance.now() + Math.random() * 10;
        while (performance.now() < until);
        await closeWorker(w);
        if (failed) throw failed;
      }
      console.log('all closed');`,
    );
    const r = spawnSync(process.execPath, [main], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.signal, null, `the process died of ${r.signal}: ${r.stderr.slice(0, 600)}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /all closed/);
  } finally {
    await fs.promises.rm(dir, { recursive: true });
  }
});
