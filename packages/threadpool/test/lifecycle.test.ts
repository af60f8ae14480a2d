import * as fs from 'node:fs';
import { expect, it } from 'vitest';
import { pattern, runScript, tempFile } from './helpers.js';

it('threadpool: an idle context that was never closed does not keep the process alive', () => {
  const path = tempFile(pattern(4096));
  const child = runScript(`
    import { Aio } from '@aio/core';
    import { threadpool } from '@aio/threadpool';
    const aio = new Aio({ method: threadpool() });
    const file = aio.open(${JSON.stringify(path)});
    console.log(await file.read(Buffer.alloc(4096), 0));
    // Neither the file nor the context is closed: the process must still end.
  `);
  expect(child.signal).toBe(null);
  expect(child.status).toBe(0);
  expect(child.stdout.trim()).toBe('4096');
});

it('threadpool: a worker_thread that goes away with IO queued waits for it before freeing anything', () => {
  const path = tempFile(Buffer.alloc(32 * 4096));
  const child = runScript(`
    import { Worker } from 'node:worker_threads';
    import { readFileSync } from 'node:fs';
    import { pauseWorkers, resumeWorkers, poolInfo } from '@aio/threadpool/testing';
    const path = ${JSON.stringify(path)};
    pauseWorkers();
    const worker = new Worker(\`
      import { Aio } from '@aio/core';
      import { threadpool } from '@aio/threadpool';
      import { parentPort } from 'node:worker_threads';
      const aio = new Aio({ method: threadpool() });
      const file = aio.open(\${JSON.stringify(path)}, { write: true });
      for (let i = 0; i < 32; i++) file.write(Buffer.alloc(4096, i + 1), i * 4096);
      parentPort.postMessage('queued');
      process.exit(0); // the environment goes away with 32 writes in the paused pool
    \`, { eval: true, type: 'module' });
    worker.on('message', () => {
      // The worker's teardown now waits for its writes; let them run.
      setTimeout(() => { console.log('queued', poolInfo().queued); resumeWorkers(); }, 200);
    });
    worker.on('exit', (code) => {
      const bytes = readFileSync(path);
      let written = 0;
      for (let i = 0; i < 32; i++) if (bytes[i * 4096] === i + 1 && bytes[i * 4096 + 4095] === i + 1) written++;
      console.log('exit', code, 'written', written, 'contexts', poolInfo().contexts);
    });
  `);
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  expect(child.stdout).toContain('queued 32');
  expect(child.stdout).toContain('exit 0 written 32 contexts 0');
  expect(fs.readFileSync(path).subarray(31 * 4096)).toEqual(Buffer.alloc(4096, 32));
});

it('threadpool: worker_threads that load the addon one after another, alone, each start and stop the pool cleanly', () => {
  const path = tempFile(pattern(8192));
  const child = runScript(`
    import { Worker } from 'node:worker_threads';
    import { once } from 'node:events';
    const path = ${JSON.stringify(path)};
    // The main thread never loads the addon, so the pool stops (and Node may
    // unload the addon) every time a worker ends: the workers must be joined first.
    for (let round = 0; round < 3; round++) {
      const worker = new Worker(\`
        import { Aio } from '@aio/core';
        import { threadpool, poolInfo } from '@aio/threadpool';
        import { parentPort } from 'node:worker_threads';
        const aio = new Aio({ method: threadpool() });
        const file = aio.open(\${JSON.stringify(path)});
        const reads = Array.from({ length: 64 }, (_, i) => file.read(Buffer.alloc(128), i * 128));
        const done = await Promise.all(reads);
        parentPort.postMessage({ ok: done.every((n) => n === 128), environments: poolInfo().environments });
        // Leave the context open: the environment's cleanup closes it.
      \`, { eval: true, type: 'module' });
      const exit = once(worker, 'exit');
      const [message] = await once(worker, 'message');
      const [code] = await exit;
      console.log(round, message.ok, message.environments, code);
    }
  `);
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  expect(child.stdout.trim().split('\n')).toEqual(['0 true 1 0', '1 true 1 0', '2 true 1 0']);
});

it('threadpool: worker_threads share the main thread\'s pool, and their exit leaves it running', () => {
  const path = tempFile(pattern(65536));
  const child = runScript(`
    import { Worker } from 'node:worker_threads';
    import { once } from 'node:events';
    import { Aio } from '@aio/core';
    import { threadpool, poolInfo } from '@aio/threadpool';
    const path = ${JSON.stringify(path)};
    const aio = new Aio({ method: threadpool({ workers: 4 }) });
    const file = aio.open(path);
    await file.read(Buffer.alloc(16), 0);
    const workers = Array.from({ length: 4 }, () => new Worker(\`
      import { Aio } from '@aio/core';
      import { threadpool, poolInfo } from '@aio/threadpool';
      import { parentPort } from 'node:worker_threads';
      const aio = new Aio({ method: threadpool() });
      const file = aio.open(\${JSON.stringify(path)});
      const done = await Promise.all(Array.from({ length: 200 }, (_, i) => file.read(Buffer.alloc(256), (i * 256) % 65536)));
      parentPort.postMessage({ ok: done.every((n) => n === 256), info: poolInfo() });
      await file.close();
      await aio.close();
    \`, { eval: true, type: 'module' }));
    const exits = workers.map((w) => once(w, 'exit'));
    const messages = await Promise.all(workers.map((w) => once(w, 'message').then(([m]) => m)));
    await Promise.all(exits);
    const after = poolInfo();
    console.log(JSON.stringify({
      ok: messages.every((m) => m.ok),
      threads: [...new Set(messages.map((m) => m.info.threads))],
      environments: Math.max(...messages.map((m) => m.info.environments)),
      after: { environments: after.environments, threads: after.threads, starts: after.starts, contexts: after.contexts },
    }));
    console.log(await file.read(Buffer.alloc(16), 16));
    await file.close();
    await aio.close();
  `);
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  const [summary, last] = child.stdout.trim().split('\n');
  const parsed = JSON.parse(summary);
  expect(parsed.ok).toBe(true);
  // Every worker saw the main thread's 4 threads: one pool, not one per thread.
  expect(parsed.threads).toEqual([4]);
  expect(parsed.environments).toBeGreaterThanOrEqual(2);
  expect(parsed.after).toEqual({ environments: 1, threads: 4, starts: 1, contexts: 1 });
  expect(last).toBe('16');
});
