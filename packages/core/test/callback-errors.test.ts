/**
 * Completion callbacks that throw: which callback the error result names,
 * and which of the other callbacks still run.  Each phase runs its
 * callbacks last-registered first.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { AioResult, AioReturn, AioWaitRef, defineAioCallbacks, type AioCallbackId } from '../src/index.js';
import { helperWorld } from './helper-world.js';

const world = helperWorld('aio-core-callback-errors-');

/** Reads 100 bytes on a handle with `ids` registered in that order; resolves with the return object once done. */
async function readWith(ids: AioCallbackId[], kind: 'deferred' | 'sync'): Promise<AioReturn> {
  const { aio } = world.context(kind);
  const file = aio.open(world.file(Buffer.alloc(4096, 7)));
  const ret = new AioReturn();
  const ref = new AioWaitRef();
  const handle = aio.acquire(ret);
  for (const id of ids) handle.registerCallbacks(id);
  handle.getWaitRef(ref);
  handle.startRead(file, Buffer.alloc(100), 0);
  await ref.wait();
  await file.close();
  return ret;
}

describe('core: completion callbacks that throw', () => {
  for (const kind of ['deferred', 'sync'] as const) {
    it(`core (${kind}): a shared callback that throws after another one ran is the one the result names`, async () => {
      const ran: string[] = [];
      const boom = new Error('second shared callback');
      const throws = defineAioCallbacks({
        name: 'throws-second',
        completeShared() {
          ran.push('throws');
          throw boom;
        },
      });
      const first = defineAioCallbacks({
        name: 'runs-first',
        completeShared(_handle, prior) {
          ran.push('first');
          return prior;
        },
        completeLocal(_handle, prior) {
          ran.push('local');
          return prior;
        },
      });
      // Registered [throws, first]: `first` runs first, then `throws`.
      const ret = await readWith([throws, first], kind);
      assert.deepEqual(ran, ['first', 'throws', 'local'], 'the shared phase stops at the throw; the local phase still runs');
      assert.equal(ret.result.status, 'error');
      assert.equal(ret.result.code, 'AIO_CALLBACK_FAILED');
      assert.equal(ret.result.id, throws);
      assert.equal(ret.cause, boom);
    });

    it(`core (${kind}): a local callback that returns something other than an AioResult fails the IO with its id`, async () => {
      const bad = defineAioCallbacks({
        name: 'returns-a-number',
        completeLocal: () => 42 as unknown as AioResult,
      });
      const ret = await readWith([bad], kind);
      assert.equal(ret.result.status, 'error');
      assert.equal(ret.result.id, bad);
      assert.ok(ret.cause instanceof TypeError && /completeLocal callback must return an AioResult/.test(ret.cause.message));
    });
  }
});
