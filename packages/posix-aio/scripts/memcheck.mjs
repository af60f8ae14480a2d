// The memcheck: runs scripts/memcheck-workload.mjs on the AddressSanitizer
// build of the addon (build/asan/, made by `aio-native-build --variant asan`)
// with libasan preloaded into an ordinary node, and fails on
//   - any AddressSanitizer error (use after free, overflow, double free...),
//   - any leak allocated by this addon or the kit: the caller of the
//     allocator (frame #1) is our code.  Node and V8 leak by design at exit,
//     including records they allocate inside Node-API calls we make (frame
//     #1 in node, e.g. the reference napi_create_external keeps): ignored.
//     An object of ours still reachable only from such a record is reported
//     as an indirect leak with our frame #1, so it is still caught.
//   - a workload that did not print its success line.
// Then the whole conformance suite for posix_aio runs on the ASan build
// (tooling/conformance/bin/asan.mjs), memory-safety cases included.
// Usage: node scripts/memcheck.mjs [workload.mjs]   (exit 0 = clean)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const workload = process.argv[2] ?? fileURLToPath(new URL('./memcheck-workload.mjs', import.meta.url));
const libasan = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
if (!existsSync(libasan)) {
  console.error(`memcheck: libasan not found (${libasan}); install gcc's libasan`);
  process.exit(2);
}
if (!existsSync(new URL('../build/asan/aio_posix_aio.node', import.meta.url))) {
  console.error('memcheck: build/asan/aio_posix_aio.node is missing; run `aio-native-build --variant asan`');
  process.exit(2);
}

// --expose-gc: the workload collects a dropped context and transferred buffers on purpose.
const child = spawnSync(process.execPath, ['--expose-gc', workload], {
  cwd: root,
  encoding: 'utf8',
  timeout: 300_000,
  env: {
    ...process.env,
    LD_PRELOAD: libasan,
    AIO_NATIVE_VARIANT: 'asan',
    // V8 reserves huge address ranges and installs its own SEGV handler.
    ASAN_OPTIONS: 'detect_leaks=1:allow_user_segv_handler=1:handle_segv=0:detect_odr_violation=0:exitcode=86',
  },
});
const stderr = child.stderr ?? '';
process.stdout.write(child.stdout ?? '');

const OUR_CODE = /aio_posix_aio\.node|packages\/posix-aio\/native\/|tooling\/native\/src\//;
const ours = (block) => OUR_CODE.test(block.split('\n').find((line) => /^\s*#1 /.test(line)) ?? '');
const reports = stderr.split(/\n(?=Direct leak|Indirect leak)/).filter((block) => /^(Direct|Indirect) leak/.test(block));
const ourLeaks = reports.filter((block) => ours(block));
const asanErrors = stderr.match(/ERROR: AddressSanitizer: [^\n]*/g) ?? [];
const passed = /memcheck workload: all checks passed/.test(child.stdout ?? '');

console.log(`memcheck: ${reports.length} leak reports at exit, ${reports.length - ourLeaks.length} from node/V8 (ignored), ${ourLeaks.length} from the addon`);
if (asanErrors.length > 0) {
  console.error(stderr);
  console.error(`memcheck: FAILED: ${asanErrors.join('; ')}`);
  process.exit(1);
}
if (ourLeaks.length > 0) {
  console.error(ourLeaks.join('\n'));
  console.error(`memcheck: FAILED: ${ourLeaks.length} leaks allocated by the addon`);
  process.exit(1);
}
if (!passed || child.signal !== null) {
  console.error(stderr);
  console.error(`memcheck: FAILED: the workload did not finish (status ${child.status}, signal ${child.signal})`);
  process.exit(1);
}
console.log('memcheck: workload clean (no AddressSanitizer error, no leak from the addon)');

// The whole conformance suite on the ASan build, memory-safety cases included.
const conformance = spawnSync(process.execPath, [fileURLToPath(new URL('../../../tooling/conformance/bin/asan.mjs', import.meta.url)), 'posix_aio'], {
  cwd: root,
  stdio: 'inherit',
});
if (conformance.status !== 0) {
  console.error('memcheck: FAILED: the conformance suite under AddressSanitizer');
  process.exit(1);
}
console.log('memcheck: clean (workload and conformance suite: no AddressSanitizer error, no leak from the addon)');
