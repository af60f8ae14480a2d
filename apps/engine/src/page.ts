/**
 * The on-disk page: 8 KiB, a 32-byte header, then packed entries.
 *
 * Header (little-endian):
 *   0  u32  checksum: CRC-32 (zlib's) of bytes 4..8191 (so a torn or misdirected write is caught)
 *   4  u32  the page's own number (a page written at the wrong offset fails the check)
 *   8  f64  page LSN: the end LSN of the WAL record that last changed the page
 *   16 u8   kind: 0 never written (all zeros), 1 meta, 2 leaf, 3 inner
 *   18 u16  number of entries
 *   20 u32  leaf: the next leaf to the right (0 = none); inner: the leftmost child
 *   24 u32  bytes of entries after the header
 * Leaf entry: u16 key length, u16 value length, key, value.
 * Inner entry: u16 key length, u32 child, key (keys >= key go to child).
 * Meta (page 0): root at 20, page count at 28, tree height at 32.
 *
 * Everything past the entries is zero, so the WAL logs only the used prefix of a page image.
 */
import { crc32 } from 'node:zlib';

export const PAGE_SIZE = 8192;
export const PAGE_HEADER_SIZE = 32;
export const META_PAGE = 0;
/** Limits that guarantee a split always leaves both halves within a page (each entry at most a third of it). */
export const MAX_KEY_SIZE = 512;
export const MAX_VALUE_SIZE = 2048;

export type PageKind = 'zero' | 'meta' | 'leaf' | 'inner';
const KIND_CODES: Record<PageKind, number> = { zero: 0, meta: 1, leaf: 2, inner: 3 };
const KIND_NAMES: PageKind[] = ['zero', 'meta', 'leaf', 'inner'];

export interface MetaNode {
  kind: 'meta';
  root: number;
  pageCount: number;
  height: number;
}
export interface LeafNode {
  kind: 'leaf';
  keys: Buffer[];
  values: Buffer[];
  next: number;
}
export interface InnerNode {
  kind: 'inner';
  keys: Buffer[];
  /** keys.length + 1 children: children[0] holds keys below keys[0], children[i + 1] keys from keys[i]. */
  children: number[];
}
export interface ZeroNode {
  kind: 'zero';
}
export type PageNode = MetaNode | LeafNode | InnerNode | ZeroNode;

export type PageVerdict = 'ok' | 'zero' | 'torn';

/** Whether a page read from disk can be trusted: all zeros (never written), intact, or torn/misdirected. */
export function verifyPage(page: Buffer, pageNo: number): PageVerdict {
  const stored = page.readUInt32LE(0);
  if (stored === 0 && page.compare(ZERO_PAGE) === 0) return 'zero';
  if (pageChecksum(page) !== stored) return 'torn';
  return page.readUInt32LE(4) === pageNo ? 'ok' : 'torn';
}

/** Stamps number and checksum; called on the copy that goes to disk, right before its write. */
export function sealPage(page: Buffer, pageNo: number): void {
  page.writeUInt32LE(pageNo, 4);
  page.writeUInt32LE(pageChecksum(page), 0);
}

// ---------------------------------------------------------------------------------------------------
// The page checksum: CRC-32 (zlib's, the IEEE polynomial) of bytes 4..8191.  It runs once per page read
// and dominated a scan's CPU time, so it is computed for a fraction of a byte-wise CRC's cost:
//   - with Node's native zlib.crc32, about 2.5x the engine's own slicing-by-16 CRC32C in JavaScript and
//     4x core's crc32c (slicing-by-8 over bytes), which is why the page checksum is CRC-32, not CRC32C;
//   - only over the used bytes: a page is zero past them (encodePage), so the tail is checked with one
//     native comparison against zeros, and the CRC over those zeros is not computed byte by byte:
//     feeding n zero bytes into the CRC register multiplies it by x^(8n) modulo the polynomial, one
//     multiplication.
// A page whose tail is not zero (torn, or garbage) takes the full path, so the result is always
// exactly zlib.crc32(page.subarray(4)).
// ---------------------------------------------------------------------------------------------------

/** CRC-32's polynomial, bit-reflected. */
const CRC32_POLY = 0xedb88320;
const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);

/** a × b modulo the CRC polynomial, both bit-reflected (bit 31 is x^0). */
function multiplyModPoly(a: number, b: number): number {
  let product = 0;
  for (let m = 0x80000000; m !== 0 && a !== 0; m >>>= 1) {
    if (a & m) {
      product ^= b;
      a ^= m;
    }
    b = b & 1 ? (b >>> 1) ^ CRC32_POLY : b >>> 1;
  }
  return product;
}

/** x^(8·2^k) modulo the polynomial: the effect of 2^k zero bytes on the register. */
const ZERO_BYTES_POWERS = (() => {
  const powers = new Int32Array(32);
  let p = 0x00800000; // x^8: one zero byte
  for (let k = 0; k < 32; k++) {
    powers[k] = p;
    p = multiplyModPoly(p, p);
  }
  return powers;
})();

/** x^(8n) modulo the polynomial for every tail length n met so far (0: not computed yet). */
const zeroRunOperators = new Int32Array(PAGE_SIZE + 1);

function zeroRunOperator(n: number): number {
  let op = zeroRunOperators[n];
  if (op === 0) {
    op = 0x80000000 | 0; // x^0
    for (let k = 0; n >>> k !== 0; k++) if ((n >>> k) & 1) op = multiplyModPoly(op, ZERO_BYTES_POWERS[k]);
    zeroRunOperators[n] = op;
  }
  return op;
}

/** CRC-32 of page[4..8192), as zlib.crc32(page.subarray(4)) would compute it. */
export function pageChecksum(page: Buffer): number {
  const kind = page[16];
  let used = kind === KIND_CODES.leaf || kind === KIND_CODES.inner ? PAGE_HEADER_SIZE + page.readUInt32LE(24) : kind === KIND_CODES.meta ? PAGE_HEADER_SIZE + 8 : PAGE_HEADER_SIZE;
  if (used > PAGE_SIZE) used = PAGE_SIZE;
  if (used < PAGE_SIZE && page.compare(ZERO_PAGE, used, PAGE_SIZE, used, PAGE_SIZE) !== 0) used = PAGE_SIZE;
  const crc = crc32(page.subarray(4, used));
  if (used === PAGE_SIZE) return crc;
  // The register is the CRC without its final inversion.
  return ~multiplyModPoly(zeroRunOperator(PAGE_SIZE - used), ~crc) >>> 0;
}

export function pageLsn(page: Buffer): number {
  return page.readDoubleLE(8);
}

export function setPageLsn(page: Buffer, lsn: number): void {
  page.writeDoubleLE(lsn, 8);
}

export function pageKind(page: Buffer): PageKind {
  return KIND_NAMES[page[16]] ?? 'zero';
}

/** Bytes of the page that carry data (header plus entries); the rest is zero. */
export function usedBytes(page: Buffer): number {
  return pageKind(page) === 'zero' ? 0 : PAGE_HEADER_SIZE + page.readUInt32LE(24) + (pageKind(page) === 'meta' ? 8 : 0);
}

export function leafEntrySize(key: Buffer, value: Buffer): number {
  return 4 + key.length + value.length;
}

export function innerEntrySize(key: Buffer): number {
  return 6 + key.length;
}

export function nodeSize(node: PageNode): number {
  switch (node.kind) {
    case 'leaf':
      return node.keys.reduce((sum, key, i) => sum + leafEntrySize(key, node.values[i]), PAGE_HEADER_SIZE);
    case 'inner':
      return node.keys.reduce((sum, key) => sum + innerEntrySize(key), PAGE_HEADER_SIZE);
    default:
      return PAGE_HEADER_SIZE + 8;
  }
}

export function fitsInPage(node: PageNode): boolean {
  return nodeSize(node) <= PAGE_SIZE;
}

/** Reads a page into its node form (a copy: the node does not alias the frame). */
export function decodePage(page: Buffer): PageNode {
  const kind = pageKind(page);
  const count = page.readUInt16LE(18);
  const link = page.readUInt32LE(20);
  if (kind === 'meta') return { kind, root: link, pageCount: page.readUInt32LE(28), height: page.readUInt32LE(32) };
  if (kind === 'zero') return { kind };
  const keys: Buffer[] = [];
  let at = PAGE_HEADER_SIZE;
  if (kind === 'leaf') {
    const values: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const klen = page.readUInt16LE(at);
      const vlen = page.readUInt16LE(at + 2);
      keys.push(Buffer.from(page.subarray(at + 4, at + 4 + klen)));
      values.push(Buffer.from(page.subarray(at + 4 + klen, at + 4 + klen + vlen)));
      at += 4 + klen + vlen;
    }
    return { kind, keys, values, next: link };
  }
  const children = [link];
  for (let i = 0; i < count; i++) {
    const klen = page.readUInt16LE(at);
    children.push(page.readUInt32LE(at + 2));
    keys.push(Buffer.from(page.subarray(at + 6, at + 6 + klen)));
    at += 6 + klen;
  }
  return { kind, keys, children };
}

/** Writes a node into a page buffer (header fields except checksum, number and LSN), zeroing the rest. */
export function encodePage(node: PageNode, page: Buffer): void {
  page.fill(0, 16);
  page[16] = KIND_CODES[node.kind];
  let at = PAGE_HEADER_SIZE;
  if (node.kind === 'meta') {
    page.writeUInt32LE(node.root, 20);
    page.writeUInt32LE(node.pageCount, 28);
    page.writeUInt32LE(node.height, 32);
    return;
  }
  if (node.kind === 'zero') return;
  page.writeUInt16LE(node.keys.length, 18);
  if (node.kind === 'leaf') {
    page.writeUInt32LE(node.next, 20);
    node.keys.forEach((key, i) => {
      const value = node.values[i];
      page.writeUInt16LE(key.length, at);
      page.writeUInt16LE(value.length, at + 2);
      key.copy(page, at + 4);
      value.copy(page, at + 4 + key.length);
      at += 4 + key.length + value.length;
    });
  } else {
    page.writeUInt32LE(node.children[0], 20);
    node.keys.forEach((key, i) => {
      page.writeUInt16LE(key.length, at);
      page.writeUInt32LE(node.children[i + 1], at + 2);
      key.copy(page, at + 6);
      at += 6 + key.length;
    });
  }
  page.writeUInt32LE(at - PAGE_HEADER_SIZE, 24);
}

/** The index of the first key >= key (binary search over sorted keys). */
export function lowerBound(keys: readonly Buffer[], key: Buffer): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(keys[mid], key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The child of an inner node that holds key. */
export function childIndex(node: InnerNode, key: Buffer): number {
  let lo = 0;
  let hi = node.keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Buffer.compare(node.keys[mid], key) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The read path searches page bytes directly: decoding a page into a node copies every key and value,
// which on a cold pool (a fresh page per lookup) costs more than the lookup.
const entryStarts = new Int32Array(PAGE_SIZE / 4);

/** Fills entryStarts with each entry's offset; returns the count. */
function indexEntries(page: Buffer): number {
  const count = page.readUInt16LE(18);
  const leaf = page[16] === KIND_CODES.leaf;
  let at = PAGE_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    entryStarts[i] = at;
    at += leaf ? 4 + page.readUInt16LE(at) + page.readUInt16LE(at + 2) : 6 + page.readUInt16LE(at);
  }
  return count;
}

/** The value stored under key in a leaf page (a copy), or null; without decoding the page. */
export function searchLeaf(page: Buffer, key: Buffer): Buffer | null {
  let lo = 0;
  let hi = indexEntries(page);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const at = entryStarts[mid];
    const cmp = key.compare(page, at + 4, at + 4 + page.readUInt16LE(at));
    if (cmp === 0) {
      const start = at + 4 + page.readUInt16LE(at);
      return Buffer.from(page.subarray(start, start + page.readUInt16LE(at + 2)));
    }
    if (cmp > 0) lo = mid + 1;
    else hi = mid;
  }
  return null;
}
