import * as path from 'node:path';
import { describeParity, runCalls, settleEach, TEXT, withHandle, type Scenario } from './parity.js';

/** 1.5 MiB: larger than node:fs's 512 KiB readFile and writeFile steps. */
const BIG = Buffer.from(Array.from({ length: 1536 * 1024 }, (_, i) => (i * 31 + (i >> 9)) & 0xff));

async function* chunks(): AsyncGenerator<string | Buffer> {
  yield 'async ';
  yield Buffer.from('generated ');
  yield 'text';
}

const scenarios: Scenario[] = [
  {
    name: 'readFile on a path returns a Buffer, or a string with an encoding given as a string or in options',
    files: { 'data.txt': TEXT, 'empty.txt': '' },
    run: (api, dir) =>
      settleEach([
        () => api.readFile(path.join(dir, 'data.txt')),
        () => api.readFile(path.join(dir, 'data.txt'), 'utf8'),
        () => api.readFile(path.join(dir, 'data.txt'), { encoding: 'base64' }),
        () => api.readFile(path.join(dir, 'data.txt'), { encoding: null }),
        () => api.readFile(path.join(dir, 'data.txt'), { flag: 'r+' }),
        () => api.readFile(path.join(dir, 'empty.txt'), 'utf8'),
        () => api.readFile(new URL(`file://${path.join(dir, 'data.txt')}`), 'latin1'),
      ]),
  },
  {
    name: 'readFile and writeFile move files larger than their 512 KiB steps intact',
    files: { 'big.bin': BIG },
    run: async (api, dir) => {
      const read = await api.readFile(path.join(dir, 'big.bin'));
      await api.writeFile(path.join(dir, 'copy.bin'), read);
      return { equal: read.equals(BIG), length: read.length };
    },
  },
  {
    name: 'readFile errors: ENOENT with the path, EISDIR, a bad encoding, bad options, an aborted signal',
    files: { 'data.txt': TEXT },
    run: (api, dir) =>
      settleEach([
        () => api.readFile(path.join(dir, 'missing.txt')),
        () => api.readFile(dir),
        () => api.readFile(path.join(dir, 'data.txt'), 'bogus' as BufferEncoding),
        () => api.readFile(path.join(dir, 'data.txt'), 42 as never),
        () => api.readFile(path.join(dir, 'data.txt'), { signal: AbortSignal.abort() }),
        () => api.readFile(path.join(dir, 'data.txt'), { signal: 'no' as never }),
        () => api.readFile(42 as never),
        () => api.readFile(path.join(dir, 'data.txt'), { flag: 'q' }),
      ]),
  },
  {
    name: 'writeFile on a path truncates and writes strings, buffers, typed arrays and iterables; its options apply',
    run: async (api, dir) => {
      const file = path.join(dir, 'out.txt');
      const out = await settleEach([
        () => api.writeFile(file, 'first version, which is longer'),
        () => api.writeFile(file, 'second'),
        () => api.writeFile(path.join(dir, 'bytes.bin'), new Uint16Array([1, 2, 3])),
        () => api.writeFile(path.join(dir, 'hex.bin'), 'cafe', 'hex'),
        () => api.writeFile(path.join(dir, 'iter.txt'), ['a', 'b', Buffer.from('c')]),
        () => api.writeFile(path.join(dir, 'gen.txt'), chunks()),
        () => api.writeFile(path.join(dir, 'flag.txt'), 'one'),
        () => api.writeFile(path.join(dir, 'flag.txt'), 'two', { flag: 'a' }),
        () => api.writeFile(path.join(dir, 'flush.txt'), 'durable', { flush: true }),
        () => api.writeFile(path.join(dir, 'empty.txt'), ''),
      ]);
      return out;
    },
  },
  {
    name: 'writeFile errors: bad data, bad options, flush not a boolean, an existing file with wx, an aborted signal, a missing directory',
    files: { 'data.txt': TEXT },
    run: (api, dir) =>
      settleEach([
        () => api.writeFile(path.join(dir, 'x.txt'), 42 as never),
        () => api.writeFile(path.join(dir, 'x.txt'), null as never),
        () => api.writeFile(path.join(dir, 'x.txt'), 'x', { flush: 'yes' as never }),
        () => api.writeFile(path.join(dir, 'x.txt'), 'x', { encoding: 'nope' as BufferEncoding }),
        () => api.writeFile(path.join(dir, 'x.txt'), 'x', true as never),
        () => api.writeFile(path.join(dir, 'data.txt'), 'x', { flag: 'wx' }),
        () => api.writeFile(path.join(dir, 'y.txt'), 'x', { signal: AbortSignal.abort() }),
        () => api.writeFile(path.join(dir, 'no', 'such', 'dir.txt'), 'x'),
      ]),
  },
  {
    name: 'a handle reads its file from the current position to the end with readFile',
    files: { 'data.txt': TEXT, 'big.bin': BIG },
    run: async (api, dir) => [
      await withHandle(api, dir, 'r', (h) =>
        settleEach([() => h.read(Buffer.alloc(10)), () => h.readFile('utf8'), () => h.readFile(), () => h.readFile({ encoding: 'hex' })]),
      ),
      await withHandle(
        api,
        dir,
        'r',
        async (h) => {
          await h.read(Buffer.alloc(1000));
          const rest = await h.readFile();
          return { length: rest.length, equal: rest.equals(BIG.subarray(1000)) };
        },
        'big.bin',
      ),
      await withHandle(api, dir, 'r', (h) =>
        settleEach([() => h.readFile({ signal: AbortSignal.abort() }), () => h.readFile(5 as never), () => h.readFile('bad' as BufferEncoding)]),
      ),
    ],
  },
  {
    name: 'a handle writes at its current position with writeFile and appendFile, without truncating',
    files: { 'data.txt': TEXT },
    run: runCalls('r+', (h) => [
      () => h.writeFile('AAAA'),
      () => h.read(Buffer.alloc(3)),
      () => h.writeFile(Buffer.from('BB')),
      () => h.appendFile('CC'),
      () => h.writeFile(['D', 'E']),
      () => h.writeFile('4646', 'hex'),
      () => h.writeFile(42 as never),
      () => h.writeFile('x', { signal: AbortSignal.abort() }),
    ]),
  },
  {
    name: 'readFile, writeFile and appendFile accept a FileHandle in place of the path',
    files: { 'data.txt': TEXT },
    run: (api, dir) =>
      withHandle(api, dir, 'r+', (h) =>
        settleEach([
          () => api.readFile(h as never, 'utf8'),
          () => api.writeFile(h as never, '<written>'),
          () => api.appendFile(h as never, '<appended>'),
          () => api.readFile(h as never, { encoding: 'utf8' }),
          () => h.read(Buffer.alloc(8), 0, 8, 0),
        ]),
      ),
  },
];

describeParity('readFile, writeFile and appendFile', scenarios);
