import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AioUsageError } from '@aio/core';
import { ioUring, methodName, probe } from '../src/index.js';
import { binding, compileC, runScript, scratchDir, skipReason } from './helpers.js';

const skip = skipReason();
const dir = scratchDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/*
 * Runs a command with io_uring_setup refused by a seccomp filter with the
 * given errno: the real probe then meets the real error, as it would in a
 * container or on a kernel without io_uring.
 */
const SECCOMP_WRAPPER = `
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 3) return 2;
  unsigned err = (unsigned)atoi(argv[1]);
  struct sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { sizeof filter / sizeof filter[0], filter };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return 126;
  execv(argv[2], argv + 2);
  return 127;
}
`;

const PROBE_SCRIPT = `
import { Aio } from '@aio/core';
import { ioUring, probe } from '@aio/io-uring';
const result = probe();
let createError;
try { new Aio({ method: ioUring() }); } catch (error) { createError = { code: error.code, message: error.message }; }
console.log(JSON.stringify({ result, createError }));
`;

function probeUnderSeccomp(errno: number): { result: { available: boolean; reason: string; code?: string }; createError?: { code: string; message: string } } | string {
  if (process.arch !== 'x64') return 'the seccomp helper filters x86-64 syscalls only';
  const wrapper = compileC(dir, 'seccomp-wrap', SECCOMP_WRAPPER);
  if (wrapper === undefined) return 'no C compiler to build the seccomp helper';
  const run = runScript(PROBE_SCRIPT, { wrap: [wrapper, String(errno)] });
  if (run.status !== 0) throw new Error(`child failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() as string);
}

describe.skipIf(skip !== undefined)('io_uring probe', () => {
  it('io_uring: the probe sets up a real ring, runs a no-op through it and names the kernel and opcodes', () => {
    const result = probe();
    expect(result.available).toBe(true);
    expect(result.reason).toMatch(/^io_uring works: ring setup and a no-op round trip succeeded/);
    expect(result.details?.opcodes).toContain('readv');
    expect(result.details?.kernel).toBe(fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
    expect(methodName).toBe('io_uring');
    expect(ioUring().name).toBe('io_uring');
  });

  it('io_uring: the probe result is cached per thread, one per set of setup flags', () => {
    expect(probe()).toBe(probe());
    expect(probe({ sqpoll: true })).toBe(probe({ sqpoll: true }));
    expect(probe({ sqpoll: true })).not.toBe(probe());
  });

  it('io_uring: a seccomp filter that refuses io_uring_setup with EPERM is reported as blocked by seccomp', (t) => {
    const outcome = probeUnderSeccomp(1);
    if (typeof outcome === 'string') return t.skip(outcome);
    expect(outcome.result.available).toBe(false);
    expect(outcome.result.code).toBe('EPERM');
    if (fs.readFileSync('/proc/sys/kernel/io_uring_disabled', 'utf8').trim() === '0') {
      expect(outcome.result.reason).toMatch(/^EPERM: blocked by seccomp/);
    }
    expect(outcome.createError?.code).toBe('AIO_ERR_METHOD_UNAVAILABLE');
    expect(outcome.createError?.message).toContain(outcome.result.reason);
  });

  it('io_uring: ENOSYS, ENOMEM and EMFILE from ring setup become reasons a user can act on', (t) => {
    const expected: [number, RegExp][] = [
      [38, /^ENOSYS: kernel has no io_uring/],
      [12, /^ENOMEM: RLIMIT_MEMLOCK too low .*ulimit -l is/],
      [24, /^EMFILE: too many open files/],
    ];
    for (const [errno, reason] of expected) {
      const outcome = probeUnderSeccomp(errno);
      if (typeof outcome === 'string') return t.skip(outcome);
      expect(outcome.result.available).toBe(false);
      expect(outcome.result.reason).toMatch(reason);
    }
  });

  it('io_uring: EPERM reasons name kernel.io_uring_disabled=2, the io_uring_group rule, or seccomp', () => {
    const describe = binding().describeSetupError;
    expect(describe(1, 2, true)).toBe('EPERM: io_uring disabled by kernel.io_uring_disabled=2');
    expect(describe(1, 1, false)).toMatch(/^EPERM: io_uring restricted by kernel.io_uring_disabled=1 .*io_uring_group/);
    expect(describe(1, 1, true)).toMatch(/^EPERM: blocked by seccomp/);
    expect(describe(1, 0, false)).toMatch(/^EPERM: blocked by seccomp/);
    expect(describe(1, -1, false)).toMatch(/^EPERM: blocked by seccomp/);
    expect(describe(22, 0, true)).toMatch(/^EINVAL: /);
    expect(describe(5, 0, true)).toBe('EIO: io_uring_setup failed (Input/output error)');
  });

  it('io_uring: a process that has run out of file descriptors gets EMFILE from the probe', () => {
    const script = `
      import * as fs from 'node:fs';
      import { loadBinding, probe } from '@aio/io-uring';
      loadBinding(); // dlopen needs a descriptor too
      const fds = [];
      try { for (;;) fds.push(fs.openSync('/dev/null', 'r')); } catch {}
      const result = probe();
      for (const fd of fds) fs.closeSync(fd);
      console.log(JSON.stringify(result));`;
    const run = runScript(script, { wrap: ['/bin/sh', '-c', 'ulimit -n 64 && exec "$0" "$@"'] });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout.trim());
    expect(result.available).toBe(false);
    expect(result.code).toBe('EMFILE');
    expect(result.reason).toMatch(/^EMFILE: too many open files/);
  });

  it('io_uring: bad factory options are usage errors, and the probe reports them instead of throwing', () => {
    const bad: unknown[] = [{ sqpoll: 'yes' }, { entries: 0 }, { iosqeAsync: 'sometimes' }, { registeredBuffers: [] }, { disabledOps: ['seek'] }, { colour: 1 }, 7];
    for (const options of bad) {
      expect(() => ioUring(options as never), JSON.stringify(options)).toThrow(AioUsageError);
    }
    expect(probe({ entries: -1 } as never)).toMatchObject({ available: false, code: 'invalid-options' });
  });

  it('io_uring: the built addon needs no liburing at run time (linked statically)', (t) => {
    const built = fileURLToPath(new URL('../build/Release/aio_io_uring.node', import.meta.url));
    let ldd: string;
    try {
      ldd = execFileSync('ldd', [built], { encoding: 'utf8' });
    } catch {
      return t.skip('ldd is not available');
    }
    expect(ldd).toMatch(/libc\.so/);
    expect(ldd).not.toMatch(/liburing/);
  });

  it('io_uring: a context that cannot get its ring (out of descriptors) fails at creation with the reason', () => {
    const script = `
      import * as fs from 'node:fs';
      import { Aio } from '@aio/core';
      import { ioUring, probe } from '@aio/io-uring';
      probe(); // passes, and is cached
      const fds = [];
      try { for (;;) fds.push(fs.openSync('/dev/null', 'r')); } catch {}
      let outcome;
      try { new Aio({ method: ioUring() }); outcome = 'created'; } catch (error) { outcome = error.code + ' ' + error.message; }
      for (const fd of fds) fs.closeSync(fd);
      console.log(outcome);`;
    const run = runScript(script, { wrap: ['/bin/sh', '-c', 'ulimit -n 64 && exec "$0" "$@"'] });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim()).toMatch(/^AIO_ERR_METHOD_UNAVAILABLE the io_uring method is not available here: EMFILE: too many open files/);
  });
});
