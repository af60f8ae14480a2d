/**
 * `check`: every page on disk has a valid checksum, and the tree's invariants hold: keys sorted
 * within each node and inside the bounds its parents give, every leaf at the same depth, the leaf chain
 * visiting the leaves in key order, every page below the page count reachable exactly once.
 */
import { blockRangeReadStream, type Aio, type AioFile } from '@aio/core';
import type { BufferPool } from './buffer-pool.js';
import { readNode } from './btree.js';
import { META_PAGE, PAGE_SIZE, verifyPage, type MetaNode } from './page.js';

export interface CheckReport {
  ok: boolean;
  pages: number;
  leaves: number;
  inners: number;
  entries: number;
  height: number;
  problems: string[];
}

export async function checkTree(aio: Aio, file: AioFile, pool: BufferPool): Promise<CheckReport> {
  const meta = (await readNode(pool, META_PAGE)) as MetaNode;
  const report: CheckReport = { ok: true, pages: meta.pageCount, leaves: 0, inners: 0, entries: 0, height: meta.height, problems: [] };
  const problem = (text: string): void => {
    if (report.problems.length < 20) report.problems.push(text);
  };
  await checkDiskPages(aio, file, meta.pageCount, problem);
  const seen = new Set<number>([META_PAGE]);
  const leafOrder: number[] = [];
  const visit = async (pageNo: number, depth: number, low: Buffer | null, high: Buffer | null): Promise<void> => {
    if (seen.has(pageNo) || pageNo >= meta.pageCount) {
      problem(`page ${pageNo} is referenced twice or lies beyond the page count ${meta.pageCount}`);
      return;
    }
    seen.add(pageNo);
    let node;
    try {
      node = await readNode(pool, pageNo);
    } catch (error) {
      problem((error as Error).message);
      return;
    }
    if (node.kind !== 'leaf' && node.kind !== 'inner') {
      problem(`page ${pageNo} at depth ${depth} is ${node.kind}`);
      return;
    }
    for (let i = 0; i < node.keys.length; i++) {
      const key = node.keys[i];
      if (i > 0 && Buffer.compare(node.keys[i - 1], key) >= 0) problem(`page ${pageNo}: keys out of order at ${i}`);
      if (low !== null && Buffer.compare(key, low) < 0) problem(`page ${pageNo}: key below its parent's bound`);
      if (high !== null && Buffer.compare(key, high) >= 0) problem(`page ${pageNo}: key at or above its parent's bound`);
    }
    if (node.kind === 'leaf') {
      if (depth !== meta.height) problem(`leaf ${pageNo} at depth ${depth}, the tree's height is ${meta.height}`);
      report.leaves++;
      report.entries += node.keys.length;
      leafOrder.push(pageNo);
      return;
    }
    report.inners++;
    for (let i = 0; i < node.children.length; i++) {
      await visit(node.children[i], depth + 1, i === 0 ? low : node.keys[i - 1], i < node.keys.length ? node.keys[i] : high);
    }
  };
  await visit(meta.root, 1, null, null);
  await checkLeafChain(pool, leafOrder, problem);
  if (seen.size !== meta.pageCount) problem(`${meta.pageCount - seen.size} of ${meta.pageCount} pages are not reachable from the root`);
  report.ok = report.problems.length === 0;
  return report;
}

async function checkDiskPages(aio: Aio, file: AioFile, pageCount: number, problem: (text: string) => void): Promise<void> {
  const stream = blockRangeReadStream(aio, file, { blockSize: PAGE_SIZE, start: 0, end: pageCount });
  let expected = 0;
  try {
    for await (const { block, buffer, length } of stream) {
      expected = block + 1;
      if (length < PAGE_SIZE) problem(`page ${block} is short on disk (${length} bytes)`);
      else if (verifyPage(buffer, block) !== 'ok') problem(`page ${block} on disk: ${verifyPage(buffer, block)}`);
    }
  } catch (error) {
    problem(`reading page ${expected}: ${(error as Error).message}`);
  }
  if (expected < pageCount) problem(`the data file ends at page ${expected}; the tree has ${pageCount}`);
}

async function checkLeafChain(pool: BufferPool, leafOrder: number[], problem: (text: string) => void): Promise<void> {
  for (let i = 0; i < leafOrder.length; i++) {
    const node = await readNode(pool, leafOrder[i]).catch(() => null);
    if (node === null) continue; // reported by the walk
    const next = node.kind === 'leaf' ? node.next : -1;
    const want = i + 1 < leafOrder.length ? leafOrder[i + 1] : 0;
    if (next !== want) problem(`leaf ${leafOrder[i]} links to ${next}, expected ${want}`);
  }
}
