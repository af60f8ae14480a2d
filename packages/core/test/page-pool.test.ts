import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { AlignedPagePool, AioUsageError, isKnownAligned } from '../src/index.js';

const usage = (code: string) => (error: unknown) => error instanceof AioUsageError && error.code === code;

describe('AlignedPagePool', () => {
  it('hands out every page once, each aligned, inside one slab of WebAssembly memory', () => {
    const pool = new AlignedPagePool(8192, 10);
    const pages = new Set<Buffer>();
    for (let i = 0; i < 10; i++) {
      const page = pool.get();
      assert.ok(page !== null);
      assert.equal(page.length, 8192);
      assert.equal(page.buffer, pool.slab.buffer, 'every page is a view of the one slab');
      assert.ok(isKnownAligned(page, 4096), `page ${i} is 4096-aligned`);
      pages.add(page);
    }
    assert.equal(pages.size, 10);
    assert.equal(pool.available, 0);
    assert.equal(pool.get(), null, 'an empty pool returns null instead of allocating');
  });

  it('rounds the stride up to the alignment so that odd page sizes stay aligned', () => {
    const pool = new AlignedPagePool(1000, 4, { alignment: 512 });
    assert.equal(pool.stride, 1024);
    for (let i = 0; i < 4; i++) assert.ok(isKnownAligned(pool.get() as Buffer, 512));
  });

  it('reuses the page given back last first, and never allocates on get or put', () => {
    const pool = new AlignedPagePool(4096, 4);
    const a = pool.get() as Buffer;
    const b = pool.get() as Buffer;
    pool.put(a);
    assert.equal(pool.get(), a, 'LIFO: the page given back last comes out first');
    pool.put(b);
    pool.put(a);
    // The same Buffer objects come back: nothing new is created per get.
    const again = [pool.get(), pool.get(), pool.get(), pool.get()];
    assert.ok(again.includes(a) && again.includes(b));
    assert.equal(pool.lent, 4);
  });

  it('accepts another view of exactly one page, and refuses foreign views and double puts', () => {
    const pool = new AlignedPagePool(4096, 2);
    const page = pool.get() as Buffer;
    assert.throws(() => pool.put(Buffer.alloc(4096)), usage('AIO_ERR_INVALID_TYPE'));
    assert.throws(() => pool.put(page.subarray(0, 100)), usage('AIO_ERR_INVALID_TYPE'));
    pool.put(new Uint8Array(page.buffer, page.byteOffset, page.byteLength));
    assert.throws(() => pool.put(page), usage('AIO_ERR_BUFFER_STATE'));
    assert.equal(pool.indexOf(page), 0);
    assert.equal(pool.indexOf('nope'), -1);
  });

  it('validates its arguments', () => {
    assert.throws(() => new AlignedPagePool(0, 1), usage('AIO_ERR_OUT_OF_RANGE'));
    assert.throws(() => new AlignedPagePool(4096, 0), usage('AIO_ERR_OUT_OF_RANGE'));
    assert.throws(() => new AlignedPagePool(4096, 1, { alignment: 3000 }), usage('AIO_ERR_OUT_OF_RANGE'));
    assert.throws(() => new AlignedPagePool(4096, 1, { alignment: 8192 }), usage('AIO_ERR_OUT_OF_RANGE'));
    assert.throws(() => new AlignedPagePool(0x4000_0000, 4), usage('AIO_ERR_OUT_OF_RANGE'));
    assert.throws(() => new AlignedPagePool(4096, 1, { bogus: 1 } as never), usage('AIO_ERR_INVALID_OPTION'));
  });
});
