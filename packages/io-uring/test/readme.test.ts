import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageDir, patternFile, runScript, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(skip !== undefined)('io_uring README', () => {
  it('io_uring: the README example runs as written', () => {
    const readme = fs.readFileSync(path.join(packageDir, 'README.md'), 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const file = patternFile(dir, 64 * 8192);
    const run = runScript((example as string).replace("'/data/table.dat'", JSON.stringify(file)));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/ios: 34,[\s\S]*fixedBufferIos: 32,/);
  });
});
