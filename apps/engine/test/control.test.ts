import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ControlFile } from '../src/control.js';
import { context, tempDir } from './helpers.js';

describe('control file', () => {
  it('the newest intact slot wins, and a torn newest slot falls back to the previous checkpoint', async () => {
    const dir = tempDir();
    const aio = await context('sync');
    const first = await ControlFile.open(aio, dir);
    expect(first.state).toBeNull();
    await first.control.write(100);
    await first.control.write(200);
    await first.control.close();
    const reread = await ControlFile.open(aio, dir);
    expect(reread.state).toEqual({ seq: 2, redo: 200 });
    await reread.control.close();
    // Tear the slot of checkpoint 2 (slot 0): its CRC fails, checkpoint 1 is used.
    const fd = fs.openSync(path.join(dir, 'control'), 'r+');
    fs.writeSync(fd, Buffer.alloc(8, 0xff), 0, 8, 16);
    fs.closeSync(fd);
    const fallback = await ControlFile.open(aio, dir);
    expect(fallback.state).toEqual({ seq: 1, redo: 100 });
    await fallback.control.close();
  });
});
