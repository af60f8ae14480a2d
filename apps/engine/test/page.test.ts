import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, decodePage, encodePage, sealPage, setPageLsn, usedBytes, verifyPage, type LeafNode } from '../src/page.js';

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

  it('an all-zero page is a page that was never written, not a torn one', () => {
    expect(verifyPage(Buffer.alloc(PAGE_SIZE), 12)).toBe('zero');
  });
});
