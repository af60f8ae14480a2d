#!/usr/bin/env node
/**
 * test:memcheck: the kqueue method's C under memory checkers, on Linux,
 * through the emulated build (the portable C plus the fake kevent/aio
 * provider; the FreeBSD file itself cannot run here).
 *
 * 1. AddressSanitizer: builds test/emulated with --variant asan and runs the
 *    whole test suite against it (libasan preloaded into node, leak
 *    detection off because node itself does not free everything at exit).
 * 2. valgrind (if installed): runs the child scenarios that cover the life
 *    cycle (top-level await, an unclosed context collected by GC, a worker
 *    exiting with IO in flight) and fails on any invalid access, or on a
 *    definitely-lost block allocated from the addon.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const driver = fileURLToPath(import.meta.resolve('@aio/native-build/build.mjs'));
const emulated = join(pkgRoot, 'test', 'emulated');
const child = join(pkgRoot, 'test', 'fixtures', 'emulated-child.mjs');

function have(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

function asan() {
  execFileSync(process.execPath, [driver, '--variant', 'asan'], { cwd: emulated, stdio: 'inherit' });
  const libasan = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
  const env = { ...process.env, LD_PRELOAD: libasan, ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1', AIO_KQUEUE_EMULATED_VARIANT: 'asan' };
  const vitest = spawnSync('pnpm', ['exec', 'vitest', 'run', '--project', '@aio/kqueue', '--root', '../..'], { cwd: pkgRoot, env, stdio: 'inherit' });
  if (vitest.status !== 0) throw new Error('the test suite failed under AddressSanitizer');
  console.log('kqueue memcheck: AddressSanitizer: the whole suite passed with no report');
}

function valgrind() {
  if (!have('valgrind')) {
    console.log('kqueue memcheck: valgrind not installed; skipped (apt-get install valgrind)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'aio-kqueue-memcheck-'));
  const file = join(dir, 'data');
  writeFileSync(file, Buffer.alloc(64 * 512, 7));
  try {
    for (const scenario of ['toplevel', 'gc', 'worker-exit']) {
      const args = ['--leak-check=full', '--show-leak-kinds=definite', '--num-callers=40', process.execPath, '--expose-gc', child, scenario, file];
      const run = spawnSync('valgrind', args, { encoding: 'utf8', timeout: 300_000 });
      // V8's conservative stack scan reads uninitialised stack words by design; only records
      // that involve the addon, and invalid accesses anywhere, count.
      const records = run.stderr.split(/\n==\d+== \n/);
      const bad = records.filter(
        (record) =>
          /Invalid (read|write|free)|Mismatched free/.test(record) ||
          (/uninitialised|definitely lost/.test(record) && record.includes('aio_kqueue_emulated')),
      );
      if (run.status !== 0 || bad.length > 0) {
        console.error(bad.join('\n\n') || run.stderr);
        throw new Error(`valgrind found a problem in scenario ${scenario}`);
      }
      console.log(`kqueue memcheck: valgrind ${scenario}: no invalid access, no leak from the addon (${run.stdout.trim()})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  asan();
  valgrind();
} catch (error) {
  console.error(`kqueue memcheck FAILED: ${error.message}`);
  process.exit(1);
}
