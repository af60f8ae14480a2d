/**
 * A child process for the exit cases (PostgreSQL X11): it starts writes and
 * then either simply ends (the event loop must stay alive until they
 * complete) or calls process.exit() at once (nothing may crash).
 *
 * argv: <method> <file> <natural|exit>
 */
import { Aio, type AioMethodName } from '@aio/core';
import { loadMethod } from './methods.js';
import { pattern } from './util.js';

const [methodName, file, mode] = process.argv.slice(2);
const method = await loadMethod(methodName as AioMethodName);
if (method.factory === undefined) {
  process.stderr.write(`unavailable: ${method.skip}\n`);
  process.exit(3);
}
const aio = new Aio({ method: method.factory, maxConcurrency: 64 });
const target = aio.open(file, { write: true, create: true, truncate: true });
aio.enterBatchMode();
for (let i = 0; i < 64; i++) aio.acquire().startWrite(target, pattern(65536, i), i * 65536);
aio.exitBatchMode();
if (mode === 'exit') process.exit(0);
// Natural end: nothing else keeps the loop alive; the in-flight IO must.
