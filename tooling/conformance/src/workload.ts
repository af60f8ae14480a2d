/**
 * A random mix of convenience and handle-API IO checked against an
 * in-memory model of the file.  Used by the property test and by each
 * worker thread of the worker_threads case.
 */
import assert from 'node:assert/strict';
import { AioReturn, AioWaitRef, type Aio, type AioFile } from '@aio/core';
import { Prng } from './util.js';

/** The file as it should be: bytes written so far, and its length. */
export class FileModel {
  bytes = Buffer.alloc(0);

  write(data: Uint8Array, position: number): void {
    const end = position + data.length;
    if (end > this.bytes.length) {
      const grown = Buffer.alloc(end);
      this.bytes.copy(grown);
      this.bytes = grown;
    }
    this.bytes.set(data, position);
  }

  /** What a read of `length` bytes at `position` returns. */
  read(length: number, position: number): Buffer {
    return this.bytes.subarray(Math.min(position, this.bytes.length), Math.min(position + length, this.bytes.length));
  }
}

function randomBytes(prng: Prng, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = prng.next() & 0xff;
  return bytes;
}

/**
 * Runs `count` random operations on `file` (which must start empty) and
 * checks every read against the model.  Returns the number of operations.
 */
export async function runModelWorkload(aio: Aio, file: AioFile, seed: number, count: number, span = 1 << 20): Promise<number> {
  const prng = new Prng(seed);
  const model = new FileModel();
  const ret = new AioReturn();
  const ref = new AioWaitRef();
  for (let i = 0; i < count; i++) {
    const position = prng.below(span);
    const length = prng.pick([1, 7, 512, 4096, 5000, 65536]);
    const kind = prng.below(10);
    if (kind < 3) {
      const data = randomBytes(prng, length);
      assert.equal(await file.write(data, position), length, `op ${i}: write`);
      model.write(data, position);
    } else if (kind < 4) {
      const parts = [randomBytes(prng, length), randomBytes(prng, prng.pick([1, 100, 4096]))];
      assert.equal(await file.writev(parts, position), parts[0].length + parts[1].length, `op ${i}: writev`);
      model.write(Buffer.concat(parts), position);
    } else if (kind < 7) {
      const into = Buffer.alloc(length);
      const got = await file.read(into, position);
      const want = model.read(length, position);
      assert.equal(got, want.length, `op ${i}: read ${length}@${position} returned ${got}, expected ${want.length}`);
      assert.ok(into.subarray(0, got).equals(want), `op ${i}: read ${length}@${position} returned the wrong bytes`);
    } else if (kind < 8) {
      const into = [Buffer.alloc(length), Buffer.alloc(100)];
      const got = await file.readv(into, position);
      const want = model.read(length + 100, position);
      assert.equal(got, want.length, `op ${i}: readv`);
      assert.ok(Buffer.concat(into).subarray(0, got).equals(want), `op ${i}: readv bytes`);
    } else if (kind < 9) {
      const into = Buffer.alloc(length);
      const handle = aio.acquire(ret);
      handle.getWaitRef(ref);
      handle.startRead(file, into, position);
      await ref.wait();
      const want = model.read(length, position);
      if (want.length === 0) assert.equal(ret.result.status, 'error', `op ${i}: handle read at EOF`);
      else assert.equal(ret.result.result, want.length, `op ${i}: handle read`);
      assert.ok(into.subarray(0, want.length).equals(want), `op ${i}: handle read bytes`);
    } else {
      await (prng.below(2) === 0 ? file.sync() : file.datasync());
    }
  }
  return count;
}
