#!/usr/bin/env node
// `node tooling/conformance/bin/asan.mjs <method>`: the conformance suite for
// one native method on the AddressSanitizer build of its addon (build/asan/,
// which the package's memcheck script builds first).  libasan is preloaded
// into every node process of the run (vitest's forks, the suite's children
// and worker threads), so the memory-safety cases (buffers transferred away
// in flight, contexts dropped without close(), workers terminated with IO in
// flight) run with every native access checked.
//
// Any sanitizer report fails the run: ASan writes each one to a file in a
// fresh folder, which must stay empty.  Leak detection is off: Node does not
// free everything at exit, and each backend's own memcheck workload judges
// the addon's leaks by allocation site.  Exit code: vitest's, or 1 on a
// report; 0 with a printed reason when libasan is missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const method = process.argv[2];
if (method === undefined || method.startsWith('-') || method.includes(',')) {
  console.error('usage: node tooling/conformance/bin/asan.mjs <method>   (one native method: io_uring, posix_aio, threadpool)');
  process.exit(2);
}
let libasan = '';
try {
  libasan = execFileSync(process.env.CC ?? 'gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
} catch {
  // Reported below.
}
if (!libasan.startsWith('/') || !existsSync(libasan)) {
  console.log(`conformance under ASan: skipped: libasan.so not found (install gcc's AddressSanitizer runtime)`);
  process.exit(0);
}

const reports = mkdtempSync(join(tmpdir(), `aio-conformance-asan-${method}-`));
console.log(`conformance under ASan: ${method}, reports in ${reports}`);
const run = spawnSync('pnpm', ['exec', 'vitest', 'run', '--project', '@aio/conformance'], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    AIO_CONFORMANCE_METHODS: method,
    AIO_NATIVE_VARIANT: 'asan',
    LD_PRELOAD: libasan,
    // V8 installs its own SEGV handler and reserves huge address ranges.
    ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:exitcode=86:allow_user_segv_handler=1:log_path=${join(reports, 'asan')}`,
  },
});
const found = readdirSync(reports);
for (const name of found) process.stderr.write(readFileSync(join(reports, name), 'utf8'));
rmSync(reports, { recursive: true, force: true });
if (found.length > 0) {
  console.error(`conformance under ASan: FAILED: ${found.length} AddressSanitizer report(s) for ${method}`);
  process.exit(1);
}
const status = run.status ?? 1;
console.log(`conformance under ASan: ${method}: ${status === 0 ? 'passed, no AddressSanitizer report' : `FAILED (vitest exit ${status})`}`);
process.exit(status);
