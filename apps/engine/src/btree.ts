/**
 * The B+tree over pool pages, and the transaction that changes it.
 *
 * A transaction pins every page it touches and changes only their decoded nodes; the frames' bytes
 * are untouched until `seal()`, which encodes the changed nodes into their frames and logs their images
 * in one WAL record, synchronously.  So a frame's bytes only ever hold states whose WAL record is
 * appended, which is what lets the checkpointer and the evictor copy any frame at any await point, and
 * an aborted transaction is undone by forgetting the decoded nodes.
 */
import type { BufferPool, Frame } from './buffer-pool.js';
import {
  META_PAGE,
  PAGE_SIZE,
  MAX_KEY_SIZE,
  MAX_VALUE_SIZE,
  childIndex,
  encodePage,
  fitsInPage,
  leafEntrySize,
  lowerBound,
  pageKind,
  searchLeaf,
  setPageLsn,
  usedBytes,
  type InnerNode,
  type LeafNode,
  type MetaNode,
  type PageNode,
} from './page.js';

/** The first bytes of every engine WAL record (other records in the log are not ours). */
export const TX_RECORD_MAGIC = 0x31474e45; // 'ENG1'

export type TxOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'delete'; key: Buffer };

export class KeyTooLargeError extends Error {
  readonly code = 'ENGINE_KEY_TOO_LARGE';
}

export function checkEntry(key: Buffer, value?: Buffer): void {
  if (key.length === 0 || key.length > MAX_KEY_SIZE) throw new KeyTooLargeError(`keys have 1 to ${MAX_KEY_SIZE} bytes, got ${key.length}`);
  if (value !== undefined && value.length > MAX_VALUE_SIZE) throw new KeyTooLargeError(`values have at most ${MAX_VALUE_SIZE} bytes, got ${value.length}`);
}

/** Reads a page's node for readers (pinned only while decoding). */
export async function readNode(pool: BufferPool, pageNo: number): Promise<PageNode> {
  const frame = await pool.pin(pageNo);
  try {
    return pool.node(frame);
  } finally {
    pool.unpin(frame);
  }
}

/** Point lookup; the caller holds the tree lock in shared mode.  Searches page bytes, decoding nothing. */
export async function lookup(pool: BufferPool, key: Buffer): Promise<Buffer | null> {
  const metaFrame = pool.pinCached(META_PAGE) ?? (await pool.pin(META_PAGE));
  let pageNo: number;
  try {
    pageNo = (pool.node(metaFrame) as MetaNode).root;
  } finally {
    pool.unpin(metaFrame);
  }
  for (;;) {
    // Hits without a Promise: the meta page, the root and most inner pages stay in the pool.
    const frame = pool.pinCached(pageNo) ?? (await pool.pin(pageNo));
    try {
      // A transaction in progress changes decoded nodes, never frame bytes, and holds the lock anyway.
      const kind = pageKind(frame.page);
      if (kind === 'leaf') return searchLeaf(frame.page, key);
      if (kind !== 'inner') throw new Error(`page ${pageNo} is ${kind}, not part of the tree`);
      // Inner pages stay in the pool and are searched by every lookup: their decoded form (made once
      // per load) saves walking every entry of the page to find the offsets each time.
      const node = pool.node(frame) as InnerNode;
      pageNo = node.children[childIndex(node, key)];
    } finally {
      pool.unpin(frame);
    }
  }
}

/**
 * The leaves that may hold keys in [start, end), in key order, found through the inner levels (which
 * stay in the pool), so a scan can read the leaves ahead with the read stream.  A level's pages are
 * read together (their misses go out in one batch), so a cold tree costs one round trip per level,
 * not one per inner page.
 */
export async function leavesInRange(pool: BufferPool, start: Buffer | null, end: Buffer | null): Promise<number[]> {
  const meta = (await readNode(pool, META_PAGE)) as MetaNode;
  let level = [meta.root];
  for (let height = meta.height; height > 1; height--) {
    const next: number[] = [];
    for (let from = 0; from < level.length; from += LEVEL_READS) {
      const nodes = (await Promise.all(level.slice(from, from + LEVEL_READS).map((pageNo) => readNode(pool, pageNo)))) as InnerNode[];
      for (const node of nodes) {
        const first = start === null ? 0 : childIndex(node, start);
        const last = end === null ? node.children.length - 1 : childIndex(node, end);
        for (let i = first; i <= last; i++) next.push(node.children[i]);
      }
    }
    level = next;
  }
  return level;
}

/** Inner pages of one level read at once at most (a batch of misses; the pool must hold them). */
const LEVEL_READS = 32;

export class Transaction {
  readonly #pool: BufferPool;
  readonly #touched = new Map<number, Frame>();
  readonly #changed = new Set<Frame>();

  constructor(pool: BufferPool) {
    this.#pool = pool;
  }

  async apply(op: TxOp): Promise<void> {
    checkEntry(op.key, op.type === 'put' ? op.value : undefined);
    if (op.type === 'put') await this.put(op.key, op.value);
    else await this.delete(op.key);
  }

  /** Creates the empty tree: meta page and one empty leaf. */
  async initialize(): Promise<void> {
    const meta = await this.#page(META_PAGE, true);
    meta.node = { kind: 'meta', root: 1, pageCount: 2, height: 1 };
    const leaf = await this.#page(1, true);
    leaf.node = { kind: 'leaf', keys: [], values: [], next: 0 };
    this.#changed.add(meta).add(leaf);
  }

  async put(key: Buffer, value: Buffer): Promise<void> {
    const path = await this.#descend(key);
    const leafFrame = path[path.length - 1];
    const leaf = leafFrame.node as LeafNode;
    const i = lowerBound(leaf.keys, key);
    if (i < leaf.keys.length && leaf.keys[i].equals(key)) leaf.values[i] = Buffer.from(value);
    else {
      leaf.keys.splice(i, 0, Buffer.from(key));
      leaf.values.splice(i, 0, Buffer.from(value));
    }
    this.#changed.add(leafFrame);
    if (!fitsInPage(leaf)) await this.#splitLeaf(path);
  }

  async delete(key: Buffer): Promise<boolean> {
    const path = await this.#descend(key);
    const leafFrame = path[path.length - 1];
    const leaf = leafFrame.node as LeafNode;
    const i = lowerBound(leaf.keys, key);
    if (i >= leaf.keys.length || !leaf.keys[i].equals(key)) return false;
    // No merging: an underfull or empty leaf stays in the tree (its keys' range is still its own).
    leaf.keys.splice(i, 1);
    leaf.values.splice(i, 1);
    this.#changed.add(leafFrame);
    return true;
  }

  get changedPages(): number {
    return this.#changed.size;
  }

  /**
   * Encodes the changed nodes into their frames and builds the WAL record of their images; `stamp`
   * appends it and returns its end LSN, which becomes every changed page's LSN.  Synchronous, so no
   * reader, evictor or checkpointer sees a frame between its new bytes and its LSN.  Unpins everything.
   */
  seal(stamp: (record: Buffer) => number): number | null {
    try {
      if (this.#changed.size === 0) return null;
      const frames = [...this.#changed];
      const head = Buffer.alloc(8);
      head.writeUInt32LE(TX_RECORD_MAGIC, 0);
      head.writeUInt32LE(frames.length, 4);
      const parts: Buffer[] = [head];
      const images: Buffer[] = [];
      const scratch = Buffer.alloc(PAGE_SIZE);
      for (const frame of frames) {
        // Encoded aside first: if the append fails, the frames still hold only logged states.
        encodePage(frame.node as PageNode, scratch);
        const image = Buffer.from(scratch.subarray(16, usedBytes(scratch)));
        const pageHead = Buffer.alloc(8);
        pageHead.writeUInt32LE(frame.pageNo, 0);
        pageHead.writeUInt32LE(16 + image.length, 4);
        parts.push(pageHead, image);
        images.push(image);
      }
      const lsn = stamp(Buffer.concat(parts));
      frames.forEach((frame, i) => {
        frame.page.fill(0, 16);
        images[i].copy(frame.page, 16);
        setPageLsn(frame.page, lsn);
        this.#pool.markDirty(frame);
      });
      return lsn;
    } catch (error) {
      this.#forget();
      throw error;
    } finally {
      this.#release();
    }
  }

  /** Gives up: the frames' bytes never changed, so forgetting the decoded nodes undoes everything. */
  abort(): void {
    this.#forget();
    this.#release();
  }

  #forget(): void {
    for (const frame of this.#touched.values()) frame.node = null;
  }

  #release(): void {
    for (const frame of this.#touched.values()) this.#pool.unpin(frame);
    this.#touched.clear();
    this.#changed.clear();
  }

  async #page(pageNo: number, fresh = false): Promise<Frame> {
    let frame = this.#touched.get(pageNo);
    if (frame === undefined) {
      frame = fresh ? await this.#pool.pinNew(pageNo) : await this.#pool.pin(pageNo);
      this.#touched.set(pageNo, frame);
      this.#pool.node(frame);
    }
    return frame;
  }

  #meta(): Promise<Frame> {
    return this.#page(META_PAGE);
  }

  /** The frames from the root to the leaf for key. */
  async #descend(key: Buffer): Promise<Frame[]> {
    const meta = (await this.#meta()).node as MetaNode;
    const path = [await this.#page(meta.root)];
    for (;;) {
      const node = path[path.length - 1].node as PageNode;
      if (node.kind === 'leaf') return path;
      if (node.kind !== 'inner') throw new Error(`page ${path[path.length - 1].pageNo} is ${node.kind}, not part of the tree`);
      path.push(await this.#page(node.children[childIndex(node, key)]));
    }
  }

  async #newPage(node: PageNode): Promise<Frame> {
    const metaFrame = await this.#meta();
    const meta = metaFrame.node as MetaNode;
    const frame = await this.#page(meta.pageCount++, true);
    frame.node = node;
    this.#changed.add(metaFrame).add(frame);
    return frame;
  }

  async #splitLeaf(path: Frame[]): Promise<void> {
    const leftFrame = path[path.length - 1];
    const left = leftFrame.node as LeafNode;
    const at = splitPoint(left.keys.map((key, i) => leafEntrySize(key, left.values[i])));
    const right: LeafNode = { kind: 'leaf', keys: left.keys.splice(at), values: left.values.splice(at), next: left.next };
    const rightFrame = await this.#newPage(right);
    left.next = rightFrame.pageNo;
    await this.#insertSeparator(path.slice(0, -1), right.keys[0], rightFrame.pageNo);
  }

  async #insertSeparator(parents: Frame[], key: Buffer, child: number): Promise<void> {
    if (parents.length === 0) {
      // The root split: a new root above the old one.
      const metaFrame = await this.#meta();
      const meta = metaFrame.node as MetaNode;
      const root = await this.#newPage({ kind: 'inner', keys: [key], children: [meta.root, child] });
      meta.root = root.pageNo;
      meta.height++;
      return;
    }
    const frame = parents[parents.length - 1];
    const node = frame.node as InnerNode;
    const i = childIndex(node, key);
    node.keys.splice(i, 0, key);
    node.children.splice(i + 1, 0, child);
    this.#changed.add(frame);
    if (fitsInPage(node)) return;
    const at = Math.max(1, splitPoint(node.keys.map((k) => 6 + k.length)));
    const up = node.keys[at];
    const right: InnerNode = { kind: 'inner', keys: node.keys.splice(at + 1), children: node.children.splice(at + 1) };
    node.keys.splice(at);
    const rightFrame = await this.#newPage(right);
    await this.#insertSeparator(parents.slice(0, -1), up, rightFrame.pageNo);
  }
}

/** The entry index that splits entries of these sizes into two halves of about equal bytes. */
function splitPoint(sizes: number[]): number {
  const total = sizes.reduce((a, b) => a + b, 0);
  let sum = 0;
  for (let i = 0; i < sizes.length; i++) {
    sum += sizes[i];
    if (sum >= total / 2) return Math.min(Math.max(i, 1), sizes.length - 1);
  }
  return sizes.length - 1;
}

/** Applies one logged page image during recovery, if the page does not already have it (page LSN). */
export function redoImage(pool: BufferPool, frame: Frame, image: Buffer, endLsn: number): boolean {
  const current = frame.page.readDoubleLE(8);
  if (frame.verdict !== 'torn' && current >= endLsn && frame.page[16] !== 0) return false;
  frame.page.fill(0);
  image.copy(frame.page, 16);
  setPageLsn(frame.page, endLsn);
  frame.node = null;
  frame.verdict = 'ok';
  pool.markDirty(frame);
  return true;
}

/** Splits a transaction record into its page images. */
export function decodeTxRecord(data: Buffer): { pageNo: number; image: Buffer }[] | null {
  if (data.length < 8 || data.readUInt32LE(0) !== TX_RECORD_MAGIC) return null;
  const count = data.readUInt32LE(4);
  const pages: { pageNo: number; image: Buffer }[] = [];
  let at = 8;
  for (let i = 0; i < count; i++) {
    const pageNo = data.readUInt32LE(at);
    const used = data.readUInt32LE(at + 4);
    const length = Math.max(0, used - 16);
    if (used > PAGE_SIZE || at + 8 + length > data.length) throw new Error(`malformed transaction record (page ${pageNo})`);
    pages.push({ pageNo, image: data.subarray(at + 8, at + 8 + length) });
    at += 8 + length;
  }
  return pages;
}
