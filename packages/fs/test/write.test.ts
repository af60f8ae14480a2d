import { describeParity, runCalls, runGivesBack, settleEach, TEXT, withHandle, type Scenario } from './parity.js';

const FILES = { 'data.txt': TEXT };

const scenarios: Scenario[] = [
  {
    name: 'write(buffer, offset, length, position) writes that part at the position and returns { bytesWritten, buffer }',
    files: FILES,
    run: runGivesBack('r+', () => Buffer.from('ABCDEFGH'), (h, buffer) => h.write(buffer, 2, 4, 10), 'buffer'),
  },
  {
    name: 'writes without a position go to the current position, which reads and writes share',
    files: FILES,
    run: runCalls('r+', (h) => [
      () => h.write(Buffer.from('11')),
      () => h.write(Buffer.from('22'), 0, 2),
      () => h.write(Buffer.from('33'), 0, 2, null),
      () => h.write(Buffer.from('44'), null),
      () => h.read(Buffer.alloc(3)),
      () => h.write(Buffer.from('55'), { offset: 1 }),
      () => h.write(Buffer.from('66'), 0, 2, 40),
      () => h.write(Buffer.from('77')),
      () => h.write(Buffer.from('88'), 0, 2, -1),
      () => h.write(Buffer.from('99'), 0, 2, 1.5),
      () => h.write(Buffer.from('aa'), 0, 2, 5n as never),
    ]),
  },
  {
    name: 'the options form write(buffer, { offset, length, position }) and write(buffer, null)',
    files: FILES,
    run: runCalls('r+', (h) => [
      () => h.write(Buffer.from('abcdef'), { offset: 1, length: 3, position: 20 }),
      () => h.write(Buffer.from('XY'), { position: 30 }),
      () => h.write(Buffer.from('QR'), null as never),
      () => h.write(Buffer.from('ST'), { offset: null, length: null, position: null } as never),
      () => h.write(new Uint16Array([0x4142, 0x4344]), { offset: 2 }),
    ]),
  },
  {
    name: 'strings are written with their encoding at a position or the current position',
    files: FILES,
    run: runCalls('r+', (h) => [
      () => h.write('héllo'),
      () => h.write('abc', 20),
      () => h.write('616263', null, 'hex'),
      () => h.write('aGk=', 30, 'base64'),
      () => h.write('ÿþ', 35, 'latin1'),
      () => h.write('wide', 40, 'utf16le'),
      () => h.write('xyz', 50, 'UTF-8' as BufferEncoding),
      () => h.write('bogus', 2, 'no-such-encoding' as BufferEncoding),
      () => h.write(''),
      () => h.write('', 3),
      () => h.write('end', -1),
      () => h.write('pos', 1.5 as never),
    ]),
  },
  {
    name: 'bad write arguments reject with node:fs errors and write nothing',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r+', (h) => {
        const b = Buffer.from('abcd');
        return settleEach([
          () => h.write(123 as never),
          () => h.write(undefined as never),
          () => h.write(null as never),
          () => h.write({ byteLength: 0 } as never),
          () => h.write({} as never),
          () => h.write(b, -1),
          () => h.write(b, 1.5),
          () => h.write(b, '1' as never),
          () => h.write(b, 5),
          () => h.write(b, 0, 5),
          () => h.write(b, 2, 3),
          () => h.write(b, 0, -1),
          () => h.write(b, 0, 1.5),
          () => h.write('abc', 0, 'hex'),
          () => h.write('abc', 0, 'HEX' as BufferEncoding),
        ]);
      }),
  },
  {
    name: 'writing a read-only file rejects with EBADF from write',
    files: FILES,
    run: runCalls('r', (h) => [() => h.write(Buffer.from('x'), 0, 1, 0), () => h.write('y'), () => h.writev([Buffer.from('z')])]),
  },
  {
    name: 'a write past the end of the file leaves a hole of zeros',
    files: FILES,
    run: runCalls('r+', (h) => [() => h.write(Buffer.from('tail'), 0, 4, TEXT.length + 6)]),
  },
  {
    name: 'many positioned writes in flight at once all land',
    files: FILES,
    run: (api, dir) =>
      withHandle(api, dir, 'r+', async (h) => {
        const results = await Promise.all(Array.from({ length: 40 }, (_, i) => h.write(Buffer.from(`<${String(i).padStart(2, '0')}>`), 0, 4, i * 4)));
        return results.map((r) => r.bytesWritten);
      }),
  },
];

describeParity('write', scenarios);
