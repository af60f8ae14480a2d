import * as path from 'node:path';
import { describeParity, runCalls, settleEach, TEXT, withHandle, type Scenario } from './parity.js';

const FILES = { 'log.txt': 'first line\n' };

const scenarios: Scenario[] = [
  {
    name: "with 'a' every write goes to the end of the file, also one given a position (Linux ignores it with O_APPEND)",
    files: FILES,
    run: runCalls('a', (h) => [
      () => h.write('second\n'),
      () => h.write(Buffer.from('third\n'), 0, 6, 0),
      () => h.write('fourth\n', 2),
      () => h.writev([Buffer.from('fi'), Buffer.from('fth\n')], 0),
      () => h.appendFile('sixth\n'),
      () => h.writeFile('seventh\n'),
    ], 'log.txt'),
  },
  {
    name: "with 'a+' reads start at 0, and after an append the current position is the end of the file",
    files: FILES,
    run: runCalls('a+', (h) => [
      () => h.read(Buffer.alloc(5)),
      () => h.write('more\n'),
      () => h.read(Buffer.alloc(5)),
      () => h.read(Buffer.alloc(5), 0, 5, 0),
      () => h.read(Buffer.alloc(5)),
      () => h.readFile('utf8'),
    ], 'log.txt'),
  },
  {
    name: "'as' and 'as+' append as well",
    files: FILES,
    run: async (api, dir) => [
      await withHandle(api, dir, 'as', (h) => settleEach([() => h.write('sync append\n', 0)]), 'log.txt'),
      await withHandle(api, dir, 'as+', (h) => settleEach([() => h.write('again\n'), () => h.read(Buffer.alloc(4), 0, 4, 0)]), 'log.txt'),
    ],
  },
  {
    name: "appendFile on a path appends and creates the file when it is missing; its 'flag' option can be changed",
    files: FILES,
    run: async (api, dir) =>
      settleEach([
        () => api.appendFile(path.join(dir, 'log.txt'), 'appended\n'),
        () => api.appendFile(path.join(dir, 'log.txt'), Buffer.from('bytes\n')),
        () => api.appendFile(path.join(dir, 'new.txt'), 'created\n'),
        () => api.appendFile(path.join(dir, 'new.txt'), '6869', 'hex'),
        () => api.appendFile(path.join(dir, 'other.txt'), 'replaced', { flag: 'w' }),
        () => api.appendFile(path.join(dir, 'log.txt'), 'exclusive', { flag: 'ax' }),
        () => api.appendFile(path.join(dir, 'log.txt'), 42 as never),
        () => api.appendFile(path.join(dir, 'log.txt'), 'x', { encoding: 'nope' as BufferEncoding }),
      ]),
  },
  {
    name: "the current position after writes on 'w+' and 'r+' is where the last write ended",
    files: { 'log.txt': TEXT },
    run: async (api, dir) => [
      await withHandle(api, dir, 'r+', (h) => settleEach([() => h.write('AB'), () => h.read(Buffer.alloc(4)), () => h.write('CD'), () => h.read(Buffer.alloc(4))]), 'log.txt'),
      await withHandle(api, dir, 'w+', (h) => settleEach([() => h.write('hello world'), () => h.read(Buffer.alloc(4)), () => h.read(Buffer.alloc(4), 0, 4, 0), () => h.readFile('utf8')]), 'log.txt'),
    ],
  },
];

describeParity('append and the current position', scenarios);
