#!/usr/bin/env node
/**
 * check:freebsd: what can honestly be checked of the FreeBSD addon on a Linux
 * machine, where no FreeBSD headers, libc or kernel exist.
 *
 * 1. The libuv shim (freebsd-shim/uv.h) is compiled after Node's real uv.h:
 *    its prototypes must be compatible redeclarations and its two constants
 *    must match libuv's.
 * 2. Every C source of the FreeBSD addon (the build.json sources plus the
 *    kit's io.c) is compiled with clang --target=x86_64-unknown-freebsd14
 *    -nostdlibinc against freebsd-shim/ with -Wall -Wextra -Werror; the
 *    shim's _Static_asserts pin struct kevent, struct aiocb and struct
 *    sigevent.
 * 3. The objects are linked into a FreeBSD .node with lld (-shared
 *    -nostdlib) against a stand-in libc.so.7 that defines kevent@FBSD_1.5
 *    only, and the result is inspected: its undefined symbols must all be
 *    Node-API, libuv or the libc functions listed below; kevent must be
 *    bound to FBSD_1.5; it must need libc.so.7 and nothing else; it must
 *    export only the Node-API module entry points.
 *
 * Nothing here runs FreeBSD code.  Output: build/freebsd-x64/aio_kqueue.node.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findUvInclude, nodeApiIncludes } from '@aio/native-build/build.mjs';

const pkgRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const kitRoot = dirname(fileURLToPath(import.meta.resolve('@aio/native-build/build.mjs')));
const shim = join(pkgRoot, 'freebsd-shim');
const outDir = join(pkgRoot, 'build', 'freebsd-x64');
const target = '--target=x86_64-unknown-freebsd14';

/** libc functions the addon may import (FreeBSD's libc.so.7 has every one). */
const LIBC = new Set([
  '__error', '__stack_chk_fail', '__stack_chk_guard',
  'malloc', 'calloc', 'free', 'memcpy', 'memmove', 'memset', 'strcmp', 'strlen', 'strncpy', 'strncat', 'strerror', 'snprintf',
  'close', 'fcntl', 'pread', 'pwrite', 'preadv', 'pwritev', 'fsync', 'fdatasync', 'sysctlbyname',
  'kqueue', 'kevent', 'aio_read', 'aio_readv', 'aio_write', 'aio_writev', 'aio_fsync', 'aio_error', 'aio_return', 'aio_cancel',
]);
const EXPORTS = new Set(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);

function tool(names) {
  for (const name of names) {
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
      return name;
    } catch {
      // try the next name
    }
  }
  throw new Error(`none of ${names.join(', ')} is installed (apt-get install clang lld llvm)`);
}

function run(command, args) {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function step(text) {
  console.log(`kqueue: ${text}`);
}

/** 1: the uv shim against Node's real uv.h. */
function checkUvShim(clang, nodeApi) {
  const uv = findUvInclude();
  if (uv === undefined) {
    step('skipped the uv.h cross-check: Node\'s uv.h was not found (set npm_config_nodedir)');
    return;
  }
  const probe = join(outDir, 'uv-shim-check.c');
  writeFileSync(
    probe,
    `#include <uv.h>\n#include "${join(shim, 'uv.h')}"\n` +
      `_Static_assert(UV_POLL == AIO_SHIM_UV_POLL, "UV_POLL");\n` +
      `_Static_assert(UV_READABLE == AIO_SHIM_UV_READABLE, "UV_READABLE");\n`,
  );
  run(clang, ['-fsyntax-only', '-Wall', '-Werror', `-I${uv}`, `-I${nodeApi}`, probe]);
  step(`freebsd-shim/uv.h matches Node's uv.h (${uv}/uv.h)`);
}

/** 2: compiles every FreeBSD source; returns the objects. */
function compileSources(clang, nodeApi) {
  const spec = JSON.parse(readFileSync(join(pkgRoot, 'native', 'build.json'), 'utf8'));
  const sources = [...spec.sources.map((s) => join(pkgRoot, s)), ...spec.kit.map((s) => join(kitRoot, 'src', s))];
  const flags = [
    target, '-nostdlibinc', '-isystem', shim, `-I${join(kitRoot, 'include')}`, `-I${nodeApi}`, `-I${join(pkgRoot, 'native')}`,
    '-std=c11', '-O2', '-fPIC', '-fvisibility=hidden', '-Wall', '-Wextra', '-Wno-unused-parameter', '-Werror', '-DNAPI_VERSION=8',
  ];
  const objects = [];
  mkdirSync(join(outDir, 'obj'), { recursive: true });
  for (const source of sources) {
    const object = join(outDir, 'obj', `${relative(pkgRoot, source).replace(/[/\\.]+/g, '_')}.o`);
    run(clang, [...flags, '-c', source, '-o', object]);
    objects.push(object);
  }
  step(`compiled ${sources.length} C sources for x86_64-unknown-freebsd14 against freebsd-shim/ with -Wall -Wextra -Werror`);
  return objects;
}

/** 3: links the .node against the stand-in libc; returns its path. */
function link(clang, objects) {
  const stubDir = join(outDir, 'stub');
  mkdirSync(stubDir, { recursive: true });
  const libc = join(stubDir, 'libc.so.7');
  run(clang, [
    target, '-fuse-ld=lld', '-shared', '-nostdlib', '-fPIC', `-Wl,--version-script=${join(shim, 'stub', 'kevent.map')}`,
    '-Wl,-soname,libc.so.7', '-o', libc, join(shim, 'stub', 'kevent.c'),
  ]);
  const output = join(outDir, 'aio_kqueue.node');
  run(clang, [target, '-fuse-ld=lld', '-shared', '-nostdlib', '-o', output, ...objects, libc]);
  step(`linked ${relative(pkgRoot, output)} with lld (-shared -nostdlib)`);
  return output;
}

function dynamicSymbols(nm, output, which) {
  return run(nm, ['-D', which, output])
    .split('\n')
    .map((line) => line.trim().split(/\s+/).pop())
    .filter((name) => name !== undefined && name !== '');
}

/** 3: inspects the linked .node. */
function inspect(nm, readelf, output) {
  const problems = [];
  const header = run(readelf, ['-h', output]);
  if (!/OS\/ABI:\s+(UNIX - )?FreeBSD/.test(header)) problems.push('the ELF header is not branded FreeBSD');
  const needed = [...run(readelf, ['-d', output]).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  if (needed.join(',') !== 'libc.so.7') problems.push(`needs ${needed.join(', ') || 'nothing'}; expected libc.so.7 only`);
  const undefinedSymbols = dynamicSymbols(nm, output, '--undefined-only').map((name) => name.replace(/@.*$/, ''));
  const unexpected = undefinedSymbols.filter((name) => !name.startsWith('napi_') && !name.startsWith('uv_') && !LIBC.has(name));
  if (unexpected.length > 0) problems.push(`unexpected undefined symbols: ${unexpected.join(', ')}`);
  const versions = run(readelf, ['--dyn-syms', output]);
  if (!/\bkevent@FBSD_1\.5\b/.test(versions)) problems.push('kevent is not bound to FBSD_1.5 (the FreeBSD 12+ struct kevent)');
  const exported = dynamicSymbols(nm, output, '--defined-only').filter((name) => !EXPORTS.has(name));
  if (exported.length > 0) problems.push(`exports more than the module entry points: ${exported.join(', ')}`);
  if (problems.length > 0) throw new Error(problems.join('\n'));
  const groups = {
    napi: undefinedSymbols.filter((n) => n.startsWith('napi_')).length,
    uv: undefinedSymbols.filter((n) => n.startsWith('uv_')),
    libc: undefinedSymbols.filter((n) => LIBC.has(n)),
  };
  step(`imports ${groups.napi} napi_* functions, libuv ${groups.uv.join(' ')}`);
  step(`imports from libc.so.7: ${groups.libc.join(' ')} (kevent@FBSD_1.5)`);
  step('needs only libc.so.7; exports only the Node-API module entry points; ELF branded FreeBSD');
}

function main() {
  const clang = tool(['clang']);
  tool(['ld.lld']);
  const nm = tool(['llvm-nm', 'nm']);
  const readelf = tool(['llvm-readelf', 'readelf']);
  const { nodeApi } = nodeApiIncludes();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  checkUvShim(clang, nodeApi);
  const output = link(clang, compileSources(clang, nodeApi));
  inspect(nm, readelf, output);
  step('compile-checked for FreeBSD, not run (no FreeBSD kernel here; see packages/kqueue/README.md)');
}

try {
  main();
} catch (error) {
  const stderr = error.stderr ? `\n${String(error.stderr).trim()}` : '';
  console.error(`kqueue: check:freebsd FAILED: ${error.message.split('\n')[0]}${stderr}`);
  if (!error.stderr && error.message.includes('\n')) console.error(error.message);
  process.exit(1);
}
