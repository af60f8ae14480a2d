import { describeParity, runCalls, runGivesBack, TEXT, type Scenario } from './parity.js';

const FILES = { 'data.txt': TEXT };

const scenarios: Scenario[] = [
  {
    name: 'readv fills the buffers in order at a position and returns { bytesRead, buffers } with the same array',
    files: FILES,
    run: runGivesBack('r', () => [Buffer.alloc(3), Buffer.alloc(5), new Uint8Array(2)], (h, buffers) => h.readv(buffers, 4), 'buffers'),
  },
  {
    name: 'readv without a position reads at the current position and advances it; at the end it reads 0 bytes',
    files: FILES,
    run: runCalls('r', (h) => [
      () => h.readv([Buffer.alloc(4), Buffer.alloc(4)]),
      () => h.readv([Buffer.alloc(4)], null),
      () => h.read(Buffer.alloc(2)),
      () => h.readv([Buffer.alloc(4)], -1 as never),
      () => h.readv([Buffer.alloc(4)], 2.5 as never),
      () => h.readv([Buffer.alloc(4)], 3n as never),
      () => h.readv([Buffer.alloc(64), Buffer.alloc(8)], 0),
      () => h.readv([Buffer.alloc(8)], TEXT.length),
      () => h.readv([Buffer.alloc(0)], 0),
    ]),
  },
  {
    name: 'writev writes the buffers in order at a position or at the current position',
    files: FILES,
    run: runCalls('r+', (h) => [
      () => h.writev([Buffer.from('AB'), Buffer.from('CD')], 10),
      () => h.writev([Buffer.from('ef'), new Uint8Array([0x67, 0x68])]),
      () => h.writev([Buffer.from('ij')], null),
      () => h.read(Buffer.alloc(3)),
      () => h.writev([Buffer.from('kl')]),
      () => h.writev([]),
      () => h.writev([Buffer.alloc(0)], 5),
    ]),
  },
  {
    name: 'bad readv and writev arguments reject with ERR_INVALID_ARG_TYPE',
    files: FILES,
    run: runCalls('r+', (h) => [
      () => h.readv('x' as never),
      () => h.readv([Buffer.alloc(1), 'x'] as never),
      () => h.readv(undefined as never),
      () => h.writev(Buffer.from('x') as never),
      () => h.writev([1] as never),
      () => h.writev(null as never),
    ]),
  },
  {
    name: 'an empty readv is rejected by the system with EINVAL',
    files: FILES,
    run: runCalls('r', (h) => [() => h.readv([]), () => h.readv([], 0)]),
  },
];

describeParity('readv and writev', scenarios);
