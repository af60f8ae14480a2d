/**
 * Where node:fs differs between Node 20, 22 and 24, @aio/fs follows Node 24.
 * Here: the read position.  Node 20 reads at the current position when
 * `position` is not a safe integer (a bigint, 1.5, '0', ...); Node 24 (and
 * Node 22.23.5, checked with the official binary: the change reached the 22
 * line within 22.x) validates it, rejects bad ones and reads at a bigint
 * position.  @aio/fs is compared with what Node 24.22.3 produced (recorded
 * below from the official binary), and the running node:fs is checked to
 * still be on its side of the difference.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as aioFs from '../src/index.js';
import { describeEachMethod, NODE_API, NODE_MAJOR, scratchDir, settle, TEXT } from './parity.js';

const POSITIONS: unknown[] = [1.5, -2, '0', {}, 2 ** 53, 2n ** 63n, -2n, true];

/** Node 24.22.3's answers for POSITIONS, then for a read at 30n and a read at the current position after it. */
const NODE_24 = [
  { rejected: { class: 'RangeError', name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'The value of "position" is out of range. It must be an integer. Received 1.5' } },
  { rejected: { class: 'RangeError', name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'The value of "position" is out of range. It must be >= -1 && <= 9007199254740991. Received -2' } },
  { rejected: { class: 'TypeError', name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: `The "position" argument must be of type bigint or integer. Received type string ('0')` } },
  { rejected: { class: 'TypeError', name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: 'The "position" argument must be of type bigint or integer. Received an instance of Object' } },
  { rejected: { class: 'RangeError', name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'The value of "position" is out of range. It must be >= -1 && <= 9007199254740991. Received 9_007_199_254_740_992' } },
  { rejected: { class: 'RangeError', name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'The value of "position" is out of range. It must be >= -1 && <= 9223372036854775801. Received 9_223_372_036_854_775_808n' } },
  { rejected: { class: 'RangeError', name: 'RangeError', code: 'ERR_OUT_OF_RANGE', message: 'The value of "position" is out of range. It must be >= -1 && <= 9223372036854775801. Received -2n' } },
  { rejected: { class: 'TypeError', name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: 'The "position" argument must be of type bigint or integer. Received type boolean (true)' } },
  { ok: { '[proto]': 'null', bytesRead: 6, buffer: `Buffer(6):${Buffer.from(' the l').toString('hex')}` } },
  { ok: { '[proto]': 'null', bytesRead: 6, buffer: `Buffer(6):${Buffer.from('The qu').toString('hex')}` } },
];

async function observe(api: typeof NODE_API): Promise<unknown[]> {
  const dir = scratchDir({ 'data.txt': TEXT });
  const h = await api.open(path.join(dir, 'data.txt'), 'r');
  const out = [];
  for (const position of POSITIONS) out.push(await settle(() => h.read(Buffer.alloc(6), 0, 6, position as number)));
  out.push(await settle(() => h.read(Buffer.alloc(6), 0, 6, 30n)));
  out.push(await settle(() => h.read(Buffer.alloc(6))));
  await h.close();
  return out;
}

describe('Node versions', () => {
  if (NODE_MAJOR > 20 && NODE_MAJOR < 24) {
    it.skip(`node:fs ${process.version}: skipped: Node ${NODE_MAJOR} took this change within its release line, so either answer is right`, () => {});
    return;
  }
  it(`node:fs ${process.version} ${NODE_MAJOR >= 24 ? 'answers as recorded from Node 24' : 'answers as Node 20 does, which is the difference'}`, async () => {
    const live = await observe(NODE_API);
    if (NODE_MAJOR >= 24) expect(live).toEqual(NODE_24);
    else expect(live).not.toEqual(NODE_24); // Node 20 reads at the current position instead: this is the difference.
  });
});

describeEachMethod('read positions follow Node 24', (method) => {
  it(`${method}: bad read positions reject and bigint positions are used, as in Node 24`, async () => {
    expect(await observe(aioFs as unknown as typeof NODE_API)).toEqual(NODE_24);
  });
});
