import * as path from 'node:path';
import { describeParity, settle, TEXT, type FsApi, type Scenario } from './parity.js';

const LINES = 'alpha\nbeta\r\ngamma\n\ndelta';
const FILES = { 'data.txt': TEXT, 'lines.txt': LINES };

type Handle = Awaited<ReturnType<FsApi['open']>>;
type StreamingHandle = Handle & {
  createReadStream(options?: object): NodeJS.ReadableStream & { close(): void };
  createWriteStream(options?: object): NodeJS.WritableStream;
  readLines(options?: object): AsyncIterable<string>;
};

async function collect(stream: NodeJS.ReadableStream): Promise<unknown> {
  const chunks: unknown[] = [];
  try {
    for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Buffer).toString('hex'));
    return { chunks };
  } catch (error) {
    return { chunks, error: await settle(() => Promise.reject(error)) };
  }
}

function finished(stream: NodeJS.WritableStream): Promise<unknown> {
  return new Promise((resolve) => {
    stream.on('error', (error) => resolve(settle(() => Promise.reject(error))));
    stream.on('close', () => resolve('closed'));
  });
}

async function handleClosed(h: Handle): Promise<unknown> {
  return { fd: h.fd, read: await settle(() => h.read(Buffer.alloc(1), 0, 1, 0)) };
}

const scenarios: Scenario[] = [
  {
    name: 'createReadStream reads from the current position, with start, end, encoding and highWaterMark, and closes the handle at the end',
    files: FILES,
    run: async (api, dir) => {
      const out = [];
      for (const options of [undefined, { start: 4, end: 18 }, { encoding: 'utf8', highWaterMark: 16 }, { start: 10, highWaterMark: 7 }]) {
        const h = (await api.open(path.join(dir, 'data.txt'), 'r')) as StreamingHandle;
        await h.read(Buffer.alloc(3));
        out.push(await collect(h.createReadStream(options)), await handleClosed(h));
      }
      return out;
    },
  },
  {
    name: 'createReadStream with autoClose false leaves the handle open',
    files: FILES,
    run: async (api, dir) => {
      const h = (await api.open(path.join(dir, 'data.txt'), 'r')) as StreamingHandle;
      const chunks = await collect(h.createReadStream({ autoClose: false, start: 40 }));
      const after = await settle(() => h.read(Buffer.alloc(5), 0, 5, 0));
      await h.close();
      return { chunks, after };
    },
  },
  {
    name: 'createWriteStream writes its chunks at the current position or at start, and flush syncs before closing',
    files: FILES,
    run: async (api, dir) => {
      const out = [];
      for (const options of [undefined, { start: 5 }, { flush: true }]) {
        const h = (await api.open(path.join(dir, 'data.txt'), 'r+')) as StreamingHandle;
        await h.write('>>');
        const stream = h.createWriteStream(options);
        const done = finished(stream);
        stream.write('one,');
        stream.write(Buffer.from('two,'));
        stream.end('three');
        out.push(await done, await handleClosed(h));
      }
      return out;
    },
  },
  {
    name: 'readLines yields the lines of the file, CRLF or LF',
    files: FILES,
    run: async (api, dir) => {
      const h = (await api.open(path.join(dir, 'lines.txt'), 'r')) as StreamingHandle;
      const lines = [];
      for await (const line of h.readLines()) lines.push(line);
      return { lines, closed: await handleClosed(h) };
    },
  },
  {
    name: 'closing the handle while a read stream is open ends the stream',
    files: FILES,
    run: async (api, dir) => {
      const h = (await api.open(path.join(dir, 'data.txt'), 'r')) as StreamingHandle;
      const stream = h.createReadStream({ highWaterMark: 8 });
      const closed = new Promise((resolve) => stream.on('close', () => resolve('stream closed')));
      await h.close();
      return { closed: await closed, fd: h.fd };
    },
  },
];

describeParity('streams', scenarios);
