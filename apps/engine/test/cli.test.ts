import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function engine(args: string[]): { status: number; stdout: string } {
  try {
    return { status: 0, stdout: execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (error) {
    const failed = error as { status: number; stdout: string };
    return { status: failed.status, stdout: failed.stdout };
  }
}

describe('the engine CLI', () => {
  it('load, put, get, scan and check work on a database directory, with --json output', (ctx) => {
    if (!fs.existsSync(cli)) return ctx.skip('apps/engine is not built');
    const dir = tempDir();
    const load = engine(['load', '--dir', dir, '--keys', '600', '--method', 'sync', '--json']);
    expect(load.status).toBe(0);
    expect(JSON.parse(load.stdout)).toMatchObject({ command: 'load', keys: 600, method: 'sync' });
    expect(engine(['put', '--dir', dir, 'hello', 'world', '--json']).status).toBe(0);
    expect(JSON.parse(engine(['get', '--dir', dir, 'hello', '--json']).stdout)).toEqual({ key: 'hello', value: 'world' });
    expect(engine(['get', '--dir', dir, 'nope']).status).toBe(1);
    const scan = engine(['scan', '--dir', dir, '--start', 'k0000000010', '--limit', '3', '--json']).stdout.trim().split('\n').map((line) => JSON.parse(line).key);
    expect(scan).toEqual(['k0000000010', 'k0000000011', 'k0000000012']);
    const check = engine(['check', '--dir', dir, '--json']);
    expect(check.status).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true, entries: 601 });
  });

  it('a bad option is a usage error with exit status 2', (ctx) => {
    if (!fs.existsSync(cli)) return ctx.skip('apps/engine is not built');
    expect(engine(['scan', '--frobnicate']).status).toBe(2);
    expect(engine(['crash', '--method', 'nosuch']).status).toBe(2);
  });
});
