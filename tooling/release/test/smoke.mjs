// Run inside an installed project: a read/write round trip through the
// method @aio/auto chooses, and the choice itself, printed as JSON.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAio } from '@aio/auto';

const dir = mkdtempSync(join(tmpdir(), 'aio-release-smoke-'));
try {
  const aio = await createAio();
  const path = join(dir, 'round-trip.bin');
  const file = aio.open(path, { read: true, write: true, create: true });
  const written = Buffer.from('aio release smoke test: a write and a read through the chosen method\n');
  const wrote = await file.write(written, 0);
  const back = Buffer.alloc(written.length);
  const read = await file.read(back, 0);
  await file.close();
  await aio.close();
  const onDisk = readFileSync(path);
  console.log(JSON.stringify({ method: aio.methodName, wrote, read, same: back.equals(written) && onDisk.equals(written) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
