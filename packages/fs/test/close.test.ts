import * as path from 'node:path';
import { describeParity, settle, settleEach, TEXT, type Scenario } from './parity.js';

const FILES = { 'data.txt': TEXT };

const scenarios: Scenario[] = [
  {
    name: "close() sets fd to -1, emits 'close' once, resolves undefined, and a second close() resolves too",
    files: FILES,
    run: async (api, dir) => {
      const h = await api.open(path.join(dir, 'data.txt'), 'r');
      const fdBefore = typeof h.fd === 'number' && h.fd >= 0;
      let events = 0;
      h.on('close', () => events++);
      const first = await settle(() => h.close());
      const second = await settle(() => h.close());
      return { fdBefore, fdAfter: h.fd, events, first, second, ownClose: Object.hasOwn(h, 'close') };
    },
  },
  {
    name: 'after close every method rejects with EBADF "file closed" and the name of its operation',
    files: FILES,
    run: async (api, dir) => {
      const h = await api.open(path.join(dir, 'data.txt'), 'r+');
      await h.close();
      const b = Buffer.alloc(4);
      return settleEach([
        () => h.read(b, 0, 4, 0),
        () => h.read(),
        () => h.read('garbage' as never),
        () => h.write(b, 0, 4, 0),
        () => h.write('text'),
        () => h.write(42 as never),
        () => h.readv([b], 0),
        () => h.writev([b], 0),
        () => h.sync(),
        () => h.datasync(),
        () => h.stat(),
        () => h.truncate(1),
        () => h.readFile(),
        () => h.writeFile('x'),
        () => h.appendFile('x'),
        () => h.chmod(0o644),
        () => h.utimes(1, 1),
      ]);
    },
  },
  {
    name: 'close() waits for the operations already running; they complete normally',
    files: FILES,
    run: async (api, dir) => {
      const h = await api.open(path.join(dir, 'data.txt'), 'r+');
      const reads = [h.read(Buffer.alloc(5), 0, 5, 0), h.read(Buffer.alloc(5)), h.sync(), h.readFile('utf8')];
      const closing = h.close();
      const results = await Promise.all(reads.map((p) => settle(() => p)));
      return { results, closed: await settle(() => closing), fd: h.fd };
    },
  },
];

describeParity('close', scenarios);
