import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeParity, settle, settleOpen, TEXT, type FsApi, type Scenario } from './parity.js';

const STRING_FLAGS = ['r', 'rs', 'sr', 'r+', 'rs+', 'sr+', 'w', 'wx', 'xw', 'w+', 'wx+', 'xw+', 'a', 'ax', 'xa', 'as', 'sa', 'a+', 'ax+', 'xa+', 'as+', 'sa+'];

/** Opens `file` with `flags` and tries a read and a write at the current position, then a positioned read. */
async function tryFlags(api: FsApi, file: string, flags: string | number | undefined): Promise<unknown> {
  const { outcome, handle: h } = await settleOpen(() => api.open(file, flags));
  if (h === null) return outcome;
  const out = {
    outcome,
    read: await settle(() => h.read(Buffer.alloc(6))),
    write: await settle(() => h.write('<w>')),
    readAt: await settle(() => h.read(Buffer.alloc(6), 0, 6, 0)),
  };
  await h.close();
  return out;
}

const scenarios: Scenario[] = [
  ...STRING_FLAGS.map((flags) => ({
    name: `open with '${flags}' on an existing file behaves as node:fs (create, truncate, exclusive, access, append)`,
    files: { 'data.txt': TEXT },
    run: (api: FsApi, dir: string) => tryFlags(api, path.join(dir, 'data.txt'), flags),
  })),
  ...STRING_FLAGS.map((flags) => ({
    name: `open with '${flags}' on a missing file behaves as node:fs (ENOENT or a new file)`,
    run: (api: FsApi, dir: string) => tryFlags(api, path.join(dir, 'missing.txt'), flags),
  })),
  {
    name: 'numeric flags are open(2) bits, and omitted or null flags mean read-only',
    files: { 'data.txt': TEXT },
    run: async (api, dir) => {
      const file = path.join(dir, 'data.txt');
      const { O_RDWR, O_CREAT, O_WRONLY, O_APPEND } = fs.constants;
      return [
        await tryFlags(api, file, O_RDWR),
        await tryFlags(api, path.join(dir, 'numeric.txt'), O_WRONLY | O_CREAT),
        await tryFlags(api, file, O_WRONLY | O_APPEND),
        await tryFlags(api, file, undefined),
        await tryFlags(api, file, null as never),
      ];
    },
  },
  {
    name: 'paths may be strings, Buffers and file URLs, and a mode applies to a created file',
    files: { 'data.txt': TEXT },
    run: async (api, dir) => {
      const results = [];
      for (const file of [Buffer.from(path.join(dir, 'data.txt')), pathToFileURL(path.join(dir, 'data.txt'))]) {
        const h = await api.open(file, 'r');
        results.push(await settle(() => h.read(Buffer.alloc(3), 0, 3, 4)));
        await h.close();
      }
      const created = await api.open(path.join(dir, 'mode.txt'), 'w', 0o600);
      await created.close();
      const stringMode = await api.open(path.join(dir, 'mode2.txt'), 'w', '640');
      await stringMode.close();
      results.push((fs.statSync(path.join(dir, 'mode.txt')).mode & 0o777).toString(8), (fs.statSync(path.join(dir, 'mode2.txt')).mode & 0o777).toString(8));
      return results;
    },
  },
  {
    name: 'open errors are node:fs errors: ENOENT, EEXIST, EISDIR, and argument errors reject instead of throwing',
    files: { 'data.txt': TEXT },
    run: async (api, dir) => {
      const out = [];
      const calls: (() => unknown)[] = [
        () => api.open(path.join(dir, 'nope', 'x.txt')),
        () => api.open(path.join(dir, 'data.txt'), 'wx'),
        () => api.open(dir, 'r+'),
        () => api.open(path.join(dir, 'data.txt'), 'q'),
        () => api.open(path.join(dir, 'data.txt'), 'R'),
        () => api.open(path.join(dir, 'data.txt'), 1.5),
        () => api.open(path.join(dir, 'data.txt'), 2 ** 40),
        () => api.open(path.join(dir, 'data.txt'), {} as never),
        () => api.open(123 as never),
        () => api.open(undefined as never),
        () => api.open(`${dir}/bad\0name`),
        () => api.open(path.join(dir, 'data.txt'), 'r', 'rwx' as never),
        () => api.open(path.join(dir, 'data.txt'), 'r', -1),
        () => api.open(new URL('http://example.com/x') as never),
      ];
      for (const call of calls) {
        const { outcome, handle } = await settleOpen(call as () => Promise<{ close(): Promise<void> }>);
        await handle?.close();
        out.push(outcome);
      }
      return out;
    },
  },
];

describeParity('open', scenarios);
