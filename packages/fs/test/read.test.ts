import * as path from 'node:path';
import { describeParity, settle, settleEach, TEXT, withHandle, type Scenario } from './parity.js';

const FILES = { 'data.txt': TEXT, 'empty.txt': '' };

const scenarios: Scenario[] = [
  {
    name: 'read(buffer, offset, length, position) reads at the position into the offset and returns { bytesRead, buffer } with a null prototype',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r', async (h) => {
        const buffer = Buffer.alloc(12, 0x2e);
        const result = await h.read(buffer, 2, 8, 4);
        return { result: await settle(async () => result), same: result.buffer === buffer, proto: Object.getPrototypeOf(result) };
      }),
  },
  {
    name: 'reads without a position start at 0 and advance the current position by the bytes read',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r', async (h) => {
        const b = Buffer.alloc(10);
        return [
          await settle(() => h.read(b)),
          await settle(() => h.read(b, 0, 5)),
          await settle(() => h.read(b, 0, 5, null)),
          await settle(() => h.read(b, 0, 5, -1)),
          await settle(() => h.read(b, 0, 5, -1n)),
          await settle(() => h.read(b, { length: 3 })),
          await settle(() => h.read({ buffer: b, length: 4 })),
          await settle(() => h.read(b, 0, 4, 0)),
          await settle(() => h.read(b, 0, 4)),
        ];
      }),
  },
  {
    name: 'positioned reads leave the current position alone',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r', async (h) => {
        const b = Buffer.alloc(6);
        await h.read(b, 0, 6, 20);
        await h.read(b, { position: 30 });
        return settle(() => h.read(b));
      }),
  },
  {
    name: 'read() with no arguments reads up to 16384 bytes into a new buffer',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r', async (h) => {
        const result = await h.read();
        return { bytesRead: result.bytesRead, length: result.buffer.length, head: result.buffer.subarray(0, result.bytesRead).toString() };
      }),
  },
  {
    name: 'the options forms read(options) and read(buffer, options) take offset, length and position, null meaning the default',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r', async (h) => [
        await settle(() => h.read({ buffer: Buffer.alloc(8), offset: 2, length: 4, position: 10 })),
        await settle(() => h.read(Buffer.alloc(8), { offset: 1, length: 3, position: 5 })),
        await settle(() => h.read(Buffer.alloc(8), { position: 0 })),
        await settle(() => h.read(Buffer.alloc(8), { offset: null, length: null, position: null })),
        await settle(() => h.read(null as never)),
        await settle(() => h.read({} as never)),
        await settle(() => h.read(Buffer.alloc(4), {})),
      ]),
  },
  {
    name: 'at and past the end of the file a read resolves with 0 bytes, near it with fewer bytes',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r', async (h) => {
        const b = Buffer.alloc(16, 0x2e);
        return [
          await settle(() => h.read(b, 0, 16, TEXT.length - 5)),
          await settle(() => h.read(b, 0, 16, TEXT.length)),
          await settle(() => h.read(b, 0, 16, TEXT.length + 100)),
          await settle(() => h.read(b, 0, 16, 1000000000000)),
        ];
      }),
  },
  {
    name: 'an empty file reads as end of file at once, also at the current position',
    files: FILES,
    run: async (api, dir) => {
      const h = await api.open(path.join(dir, 'empty.txt'), 'r');
      const out = [await settle(() => h.read(Buffer.alloc(4))), await settle(() => h.read(Buffer.alloc(4), 0, 4, 0))];
      await h.close();
      return out;
    },
  },
  {
    name: 'typed arrays and DataViews are read into by byte offset and byte length',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r', async (h) => [
        await settle(() => h.read(new Uint16Array(4), 2, 4, 0)),
        await settle(() => h.read(new Float64Array(1), 0, 8, 3)),
        await settle(() => h.read(new DataView(new ArrayBuffer(6)), 1, 5, 7)),
        await settle(() => h.read(new Uint8Array(new ArrayBuffer(10), 3, 5), 0, 5, 0)),
      ]),
  },
  {
    name: 'zero-length reads resolve at once with 0 bytes, even into an empty buffer',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r', async (h) => [
        await settle(() => h.read(Buffer.alloc(4), 0, 0, 0)),
        await settle(() => h.read(Buffer.alloc(0))),
        await settle(() => h.read(Buffer.alloc(0), 0, 0, null)),
        await settle(() => h.read(Buffer.alloc(4), 4)),
      ]),
  },
  {
    name: 'bad read arguments reject with ERR_INVALID_ARG_TYPE, ERR_OUT_OF_RANGE and ERR_INVALID_ARG_VALUE',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r', async (h) => {
        const b = Buffer.alloc(8);
        return settleEach([
          () => h.read('text' as never),
          () => h.read(42 as never),
          () => h.read([] as never),
          () => h.read({ buffer: 'x' } as never),
          () => h.read({ buffer: null } as never),
          () => h.read(b, -1),
          () => h.read(b, 1.5),
          () => h.read(b, '1' as never),
          () => h.read(b, 0, 9),
          () => h.read(b, 4, 5),
          () => h.read(b, 9, 1),
          () => h.read(b, 0, -1),
          () => h.read(b, 2 ** 53),
          () => h.read(Buffer.alloc(0), 0, 1, 0),
        ]);
      }),
  },
  {
    name: 'reading a write-only file rejects with EBADF from read, and reading a directory with EISDIR',
    files: FILES,
    run: async (api, dir) => {
      const writeOnly = await api.open(path.join(dir, 'data.txt'), 'a');
      const first = await settle(() => writeOnly.read(Buffer.alloc(4), 0, 4, 0));
      const second = await settle(() => writeOnly.read(Buffer.alloc(4)));
      await writeOnly.close();
      const directory = await api.open(dir, 'r');
      const third = await settle(() => directory.read(Buffer.alloc(4), 0, 4, 0));
      const fourth = await settle(() => directory.read(Buffer.alloc(4)));
      await directory.close();
      return [first, second, third, fourth];
    },
  },
  {
    name: 'many positioned reads in flight at once each get their own bytes',
    files: { 'big.bin': Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7) & 0xff)) },
    run: async (api, dir) => {
      const h = await api.open(path.join(dir, 'big.bin'), 'r');
      const results = await Promise.all(Array.from({ length: 48 }, (_, i) => h.read(Buffer.alloc(1000), 0, 1000, i * 1301)));
      await h.close();
      return results.map((r) => `${r.bytesRead}:${r.buffer.toString('hex', 0, 8)}:${r.buffer.toString('hex', 992)}`);
    },
  },
];

describeParity('read', scenarios);
