#!/usr/bin/env node
/**
 * Builds and runs test/native/fork-check.cc: the pool's pthread_atfork
 * handlers under real forks (Node never forks a running process, so no
 * JavaScript test can reach them).  The program is linked from the pool's
 * own sources and the kit, with stand-ins for the Node-API calls, and built
 * with AddressSanitizer when `--asan` is given.
 *
 * Exit code: 0 when every child could use a fresh pool, 77 when it cannot
 * run here (not POSIX, no C++ compiler), 1 otherwise.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeApiIncludes } from '@aio/native-build/build.mjs';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const kit = fileURLToPath(new URL('../node_modules/@aio/native-build/', import.meta.url));
const asan = process.argv.includes('--asan');

if (process.platform === 'win32') {
  console.log('fork-check: skipped: fork() is POSIX');
  process.exit(77);
}
const cxx = process.env.CXX ?? 'c++';
if (spawnSync(cxx, ['--version']).status !== 0) {
  console.log(`fork-check: skipped: no C++ compiler (${cxx})`);
  process.exit(77);
}

const dir = mkdtempSync(join(tmpdir(), 'aio-fork-check-'));
try {
  const program = join(dir, 'fork-check');
  const { nodeApi } = nodeApiIncludes();
  const common = ['-O1', '-g', '-Wall', '-Wextra', '-Wno-unused-parameter', '-DNAPI_VERSION=8', '-D_GNU_SOURCE', '-pthread'];
  if (asan) common.push('-fsanitize=address', '-fno-omit-frame-pointer');
  const includes = [join(kit, 'include'), nodeApi, join(pkg, 'native')].map((d) => `-I${d}`);
  const compile = (compiler, args) => {
    const result = spawnSync(compiler, [...common, ...includes, ...args], { stdio: 'inherit' });
    if (result.status !== 0) {
      console.error('fork-check: the build failed');
      process.exit(1);
    }
  };
  // The kit is C: compiled on its own, then linked with the pool and the check.
  const objects = ['io.c', 'completions.c'].map((file) => {
    const object = join(dir, `${file}.o`);
    compile(process.env.CC ?? 'cc', ['-std=c11', '-c', join(kit, 'src', file), '-o', object]);
    return object;
  });
  // The workers run file_ops.c's stat, truncate and allocate (tp_execute), so the pool links it too.
  const fileOps = join(dir, 'file_ops.c.o');
  compile(process.env.CC ?? 'cc', ['-std=c11', '-c', join(pkg, 'native/file_ops.c'), '-o', fileOps]);
  compile(cxx, ['-std=c++17', join(pkg, 'test/native/fork-check.cc'), join(pkg, 'native/threadpool.cc'), fileOps, ...objects, '-o', program]);
  const run = spawnSync(program, [process.argv.find((a) => /^\d+$/.test(a)) ?? '200'], {
    stdio: 'inherit',
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' },
    timeout: 120_000,
  });
  process.exit(run.status === 0 ? 0 : 1);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
