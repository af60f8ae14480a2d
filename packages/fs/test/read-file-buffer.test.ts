/**
 * readFile's `buffer` option, new in Node 24 (nodejs/node#63634): read into
 * the caller's buffer (or the one a function returns for the file size).
 * Node 20 and 22 (22.23.5 checked) ignore the option; @aio/fs follows Node 24
 * on every version.
 * On Node 24 and later the scenario is compared with the running node:fs; on
 * older Node with the observation recorded from the official Node 24.22.3
 * binary (`AIO_FS_RECORD=1` prints it).
 */
import * as path from 'node:path';
import { expect, it } from 'vitest';
import * as aioFs from '../src/index.js';
import { describeEachMethod, NODE_API, NODE_MAJOR, scratchDir, settle, TEXT, type FsApi } from './parity.js';

async function observe(api: FsApi): Promise<unknown> {
  const dir = scratchDir({ 'data.txt': TEXT, 'empty.txt': '' });
  const file = path.join(dir, 'data.txt');
  const shared = Buffer.alloc(64, 0x2e);
  const out: unknown[] = [
    await settle(() => api.readFile(file, { buffer: Buffer.alloc(100, 0x2e) })),
    await settle(() => api.readFile(file, { buffer: new Uint8Array(60), encoding: 'utf8' })),
    await settle(() => api.readFile(file, { buffer: Buffer.alloc(10) })),
    await settle(() => api.readFile(file, { buffer: (size: number) => Buffer.alloc(size + 1) })),
    await settle(() => api.readFile(file, { buffer: (size: number) => new DataView(new ArrayBuffer(size)) })),
    await settle(() => api.readFile(file, { buffer: () => 'x' })),
    await settle(() => api.readFile(file, { buffer: 42 })),
    await settle(() => api.readFile(path.join(dir, 'empty.txt'), { buffer: Buffer.alloc(0) })),
    await settle(() => api.readFile(path.join(dir, 'empty.txt'), { buffer: Buffer.alloc(4, 0x2e) })),
  ];
  const result = (await api.readFile(file, { buffer: shared })) as Buffer;
  out.push({ sharesMemory: result.buffer === shared.buffer, byteOffset: result.byteOffset });
  const h = await api.open(file, 'r');
  await h.read(Buffer.alloc(10));
  out.push(await settle(() => h.readFile({ buffer: Buffer.alloc(64, 0x2e) })));
  out.push(await settle(() => h.readFile({ buffer: {} })));
  await h.close();
  return JSON.parse(JSON.stringify(out).split(dir).join('<dir>'));
}

const NODE_24: unknown = [
  {
    "ok": "Buffer(55):54686520717569636b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920646f672e2030313233343536373839"
  },
  {
    "ok": "The quick brown fox jumps over the lazy dog. 0123456789"
  },
  {
    "rejected": {
      "class": "TypeError",
      "name": "TypeError",
      "code": "ERR_INVALID_ARG_VALUE",
      "message": "The property 'options.buffer.byteLength' is smaller than the file size of 55 bytes. Received 10"
    }
  },
  {
    "ok": "Buffer(55):54686520717569636b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920646f672e2030313233343536373839"
  },
  {
    "ok": "Buffer(55):54686520717569636b2062726f776e20666f78206a756d7073206f76657220746865206c617a7920646f672e2030313233343536373839"
  },
  {
    "rejected": {
      "class": "TypeError",
      "name": "TypeError",
      "code": "ERR_INVALID_ARG_TYPE",
      "message": "The \"options.buffer()\" property must be an instance of Buffer, TypedArray, or DataView. Received type string ('x')"
    }
  },
  {
    "rejected": {
      "class": "TypeError",
      "name": "TypeError",
      "code": "ERR_INVALID_ARG_TYPE",
      "message": "The \"options.buffer\" property must be of type function or an instance of Buffer, TypedArray, or DataView. Received type number (42)"
    }
  },
  {
    "ok": "Buffer(0):"
  },
  {
    "ok": "Buffer(0):"
  },
  {
    "sharesMemory": true,
    "byteOffset": 0
  },
  {
    "ok": "Buffer(45):62726f776e20666f78206a756d7073206f76657220746865206c617a7920646f672e2030313233343536373839"
  },
  {
    "rejected": {
      "class": "TypeError",
      "name": "TypeError",
      "code": "ERR_INVALID_ARG_TYPE",
      "message": "The \"options.buffer\" property must be of type function or an instance of Buffer, TypedArray, or DataView. Received an instance of Object"
    }
  }
];

it(`node:fs ${process.version} ${NODE_MAJOR >= 24 ? 'reads into caller buffers as recorded from Node 24' : 'predates Node 24: the recorded answers are used'}`, async () => {
  const live = await observe(NODE_API);
  if (process.env.AIO_FS_RECORD) console.log(JSON.stringify(live));
  if (NODE_MAJOR >= 24) expect(live).toEqual(NODE_24);
  else expect(live).not.toEqual(NODE_24); // Node 20/22 ignore the option: this is the difference.
});

describeEachMethod("readFile's buffer option follows Node 24", (method) => {
  it(`${method}: readFile reads into the caller's buffer, checks its size and returns a view of it, as in Node 24`, async () => {
    expect(await observe(aioFs as unknown as FsApi)).toEqual(NODE_24);
  });
});
