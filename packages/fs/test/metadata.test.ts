import { describeParity, runCalls, settleEach, TEXT, withHandle, type Scenario } from './parity.js';

const FILES = { 'data.txt': TEXT };

const scenarios: Scenario[] = [
  {
    name: 'sync and datasync resolve with undefined, also on a read-only file',
    files: FILES,
    run: async (api, dir) => [
      await withHandle(api, dir, 'r+', (h) => settleEach([() => h.write('x', 0), () => h.sync(), () => h.datasync()])),
      await withHandle(api, dir, 'r', (h) => settleEach([() => h.sync(), () => h.datasync()])),
    ],
  },
  {
    name: 'stat returns Stats (or BigIntStats) of the open file, and bad options reject',
    files: FILES,
    run: runCalls('r+', (h) => [
      () => h.stat(),
      () => h.write('grow', TEXT.length),
      () => h.stat({ bigint: true }),
      () => h.stat({ bigint: false }),
      () => h.stat(null as never),
    ]),
  },
  {
    name: 'truncate shortens or extends the file, defaults to 0, clamps negatives, and checks its argument',
    files: FILES,
    run: runCalls('r+', (h) => [
      () => h.truncate(10),
      () => h.read(Buffer.alloc(20), 0, 20, 0),
      () => h.truncate(15),
      () => h.read(Buffer.alloc(20), 0, 20, 0),
      () => h.truncate(-5),
      () => h.stat(),
      () => h.truncate(4),
      () => h.truncate(),
      () => h.truncate('3' as never),
      () => h.truncate(1.5),
      () => h.truncate(2 ** 53),
    ]),
  },
  {
    name: 'truncate on a read-only file is refused by the system',
    files: FILES,
    run: runCalls('r', (h) => [() => h.truncate(3)]),
  },
  {
    name: 'chmod and utimes change the open file',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r+', async (h) => {
        const out = await settleEach([() => h.chmod(0o640), () => h.utimes(1000, 2000), () => h.chmod('x' as never)]);
        const stats = await h.stat();
        return { out, mode: (stats.mode & 0o777).toString(8), mtime: stats.mtimeMs };
      }),
  },
];

describeParity('sync, stat, truncate and metadata', scenarios);
