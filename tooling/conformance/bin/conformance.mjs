#!/usr/bin/env node
// `pnpm conformance <method>[,<method>...]|all`: runs the conformance suite
// for those methods with vitest, prints vitest's summary, and exits with its
// exit code.  Builds what the suite needs first (turbo caches it).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const methods = process.argv[2];
if (methods === undefined || methods.startsWith('-')) {
  console.error('usage: pnpm conformance <method>[,<method>...]|all   (methods: io_uring, iocp, kqueue, posix_aio, threadpool, libuv, sync)');
  process.exit(2);
}
const run = (command, args, env = {}) =>
  spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } }).status ?? 1;

// Build the suite and the packages of the methods under test (and what they depend on), nothing else.
const packages = { io_uring: 'io-uring', iocp: 'iocp', kqueue: 'kqueue', posix_aio: 'posix-aio', threadpool: 'threadpool', libuv: 'core', sync: 'core' };
const names = methods === 'all' ? Object.keys(packages) : methods.split(',');
const filters = ['@aio/conformance...', ...names.filter((n) => packages[n]).map((n) => `./packages/${packages[n]}...`)];
if (run('pnpm', ['exec', 'turbo', 'run', 'build', '--output-logs=errors-only', ...filters.map((f) => `--filter=${f}`)]) !== 0) process.exit(1);
process.exit(run('pnpm', ['exec', 'vitest', 'run', '--project', '@aio/conformance', ...process.argv.slice(3)], { AIO_CONFORMANCE_METHODS: methods }));
