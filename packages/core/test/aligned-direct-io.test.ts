/**
 * Proves the alignment of allocAligned and AlignedPagePool with real
 * O_DIRECT reads on the test machine's disk: the kernel refuses (EINVAL) a
 * direct read whose buffer address, file offset or length is not a multiple
 * of the device's logical block size, so an accepted read at offset 0 of a
 * pool page proves the page is aligned, and the refusals prove the test can
 * tell.  Skipped with the reason where the temporary directory's file system
 * has no O_DIRECT (tmpfs).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { Aio, AioIoError, AlignedPagePool, allocAligned, syncMethod, type AioFile } from '../src/index.js';
import { deferred } from './deferred-method.js';

let dir: string;
let filePath: string;
let directReason: string | null = null;
/** The smallest file offset granularity the device accepts for direct reads (its logical block size). */
let logicalBlock = 4096;
const content = Buffer.alloc(65536);
for (let i = 0; i < content.length; i++) content[i] = (i * 7 + (i >> 9)) & 0xff;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aio-direct-'));
  filePath = path.join(dir, 'data');
  fs.writeFileSync(filePath, content);
  if (fs.constants.O_DIRECT === undefined) {
    directReason = `O_DIRECT does not exist on ${process.platform}`;
    return;
  }
  try {
    fs.closeSync(fs.openSync(filePath, fs.constants.O_RDONLY | fs.constants.O_DIRECT));
  } catch (error) {
    directReason = `the file system of ${os.tmpdir()} refuses O_DIRECT (${(error as NodeJS.ErrnoException).code})`;
    return;
  }
  logicalBlock = probeLogicalBlock();
});

/** Finds the device's logical block size with node:fs direct reads at offsets 512, 1024, 2048. */
function probeLogicalBlock(): number {
  const fd = fs.openSync(filePath, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  try {
    const buffer = allocAligned(4096);
    for (let size = 512; size < 4096; size *= 2) {
      try {
        fs.readSync(fd, buffer, 0, 4096, size);
        return size;
      } catch {
        // Not accepted at this granularity: try the next one.
      }
    }
    return 4096;
  } finally {
    fs.closeSync(fd);
  }
}

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function readDirect(aio: Aio, file: AioFile, buffer: ArrayBufferView, position: number): Promise<number | string> {
  try {
    return await file.read(buffer, position);
  } catch (error) {
    if (error instanceof AioIoError) return error.code;
    throw error;
  }
}

for (const [name, factory] of [
  ['sync', syncMethod],
  ['deferred', deferred],
] as const) {
  describe(`${name}: aligned buffers with O_DIRECT`, () => {
    it(`${name}: every page of an AlignedPagePool reads a direct file at block-aligned offsets`, async (context) => {
      if (directReason !== null) context.skip(directReason);
      const aio = new Aio({ method: factory() });
      const file = aio.open(filePath, { direct: true });
      const pool = new AlignedPagePool(8192, 8);
      for (let i = 0; i < 8; i++) {
        const page = pool.get() as Buffer;
        assert.equal(await readDirect(aio, file, page, i * 8192), 8192, `page ${i}`);
        assert.ok(page.equals(content.subarray(i * 8192, (i + 1) * 8192)));
      }
      await file.close();
      await aio.close();
    });

    it(`${name}: allocAligned buffers are accepted, at file offsets that are multiples of the device's logical block size`, async (context) => {
      if (directReason !== null) context.skip(directReason);
      const aio = new Aio({ method: factory() });
      const file = aio.open(filePath, { direct: true });
      // A small request is carved from a shared slab at an aligned offset, after another allocation.
      allocAligned(100);
      const small = allocAligned(4096);
      assert.equal(await readDirect(aio, file, small, 0), 4096);
      assert.equal(await readDirect(aio, file, small, logicalBlock), 4096);
      assert.ok(small.equals(content.subarray(logicalBlock, logicalBlock + 4096)));
      await file.close();
      await aio.close();
    });

    it(`${name}: direct reads at offsets, addresses or lengths that are not multiples of the logical block size (512 here) fail with EINVAL`, async (context) => {
      if (directReason !== null) context.skip(directReason);
      const aio = new Aio({ method: factory() });
      const file = aio.open(filePath, { direct: true });
      const slab = allocAligned(3 * 4096);
      for (const offset of [100, 511, logicalBlock + 256, 4097]) {
        assert.equal(await readDirect(aio, file, slab.subarray(0, 4096), offset), 'EINVAL', `file offset ${offset}`);
      }
      assert.equal(await readDirect(aio, file, slab.subarray(1, 4097), 0), 'EINVAL', 'buffer address off by 1');
      assert.equal(await readDirect(aio, file, slab.subarray(256, 256 + 4096), 0), 'EINVAL', 'buffer address off by 256');
      assert.equal(await readDirect(aio, file, slab.subarray(0, 1000), 0), 'EINVAL', 'length 1000');
      assert.equal(await readDirect(aio, file, slab.subarray(0, 4096), 2 * logicalBlock), 4096, 'the same buffer at an aligned offset is accepted');
      await file.close();
      await aio.close();
    });
  });
}
