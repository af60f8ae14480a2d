import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { allocAligned } from '@aio/core';
import { seededRandom } from '../src/crash.js';
import { PAGE_SIZE, decodePage, encodePage, pageChecksum, sealPage, setPageLsn, usedBytes, verifyPage, type LeafNode } from '../src/page.js';

function leafPage(pageNo: number): Buffer {
  const node: LeafNode = { kind: 'leaf', keys: [Buffer.from('a'), Buffer.from('b')], values: [Buffer.from('1'), Buffer.alloc(300, 7)], next: 9 };
  const page = Buffer.alloc(PAGE_SIZE);
  encodePage(node, page);
  setPageLsn(page, 4242);
  sealPage(page, pageNo);
  return page;
}

describe('pages', () => {
  it('a leaf survives encoding and decoding, and only its used prefix is non-zero', () => {
    const page = leafPage(3);
    expect(verifyPage(page, 3)).toBe('ok');
    const node = decodePage(page) as LeafNode;
    expect(node.keys.map(String)).toEqual(['a', 'b']);
    expect(node.values[1].equals(Buffer.alloc(300, 7))).toBe(true);
    expect(node.next).toBe(9);
    expect(page.subarray(usedBytes(page)).every((b) => b === 0)).toBe(true);
  });

  it('a page torn at a sector boundary fails its checksum', () => {
    const page = leafPage(3);
    const old = Buffer.alloc(PAGE_SIZE, 0x55);
    old.copy(page, 4096, 4096); // the second half never landed: the old bytes are still there
    expect(verifyPage(page, 3)).toBe('torn');
  });

  it('an intact page found at another page number is reported as torn (misdirected write)', () => {
    expect(verifyPage(leafPage(3), 4)).toBe('torn');
  });

  it("the page checksum is zlib's CRC-32 of bytes 4 to 8191, whatever the used length, alignment or tail", () => {
    const random = seededRandom(5);
    const slab = allocAligned(PAGE_SIZE + 64);
    for (let round = 0; round < 400; round++) {
      // Aligned frames and buffers at odd offsets; tails of zeros and (torn pages) tails that are not.
      const shift = round % 3 === 0 ? 1 + Math.floor(random() * 7) : 0;
      const page = slab.subarray(shift, shift + PAGE_SIZE).fill(0);
      const used = 32 + Math.floor(random() * (PAGE_SIZE - 32));
      for (let i = 4; i < used; i++) page[i] = Math.floor(random() * 256);
      page[16] = [1, 2, 3, 0, 9][round % 5];
      page.writeUInt32LE(used - 32 + (round % 7 === 0 ? 64 : 0), 24);
      if (round % 4 === 0) page[used + Math.floor(random() * (PAGE_SIZE - used))] = 0x40;
      expect(pageChecksum(page)).toBe(crc32(page.subarray(4)));
    }
  });

  it('an all-zero page is a page that was never written, not a torn one', () => {
    expect(verifyPage(Buffer.alloc(PAGE_SIZE), 12)).toBe('zero');
  });
});
