/**
 * What a user can do about each reason a method was skipped: the last
 * column of the decision table in README.md.  The reasons themselves come
 * from the selector (package missing, wrong platform, load failure) or,
 * verbatim, from each backend's probe; this file only adds the advice and
 * never rewrites a reason.
 */
import type { MethodEntry } from './catalog.js';

/** Machine-readable causes the selector itself assigns (probes add their own, such as 'EPERM'). */
export type SelectorCode = 'not-installed' | 'wrong-platform' | 'load-failed' | 'no-method-export' | 'probe-threw';

/**
 * Returns one sentence saying what to do about an unavailable method, or
 * undefined when there is nothing useful to say.  `code` is the probe's (or
 * the selector's) code when there is one; the reason text is matched too,
 * because a probe is not required to set a code.
 */
export function adviceFor(entry: MethodEntry, code: string | undefined, reason: string): string | undefined {
  const pkg = entry.package;
  if (code === 'not-installed') return `npm i ${pkg}`;
  if (code === 'wrong-platform' || /^wrong platform/.test(reason)) {
    return `nothing to do: ${entry.name} needs ${entry.needs}; the selector uses the next method`;
  }
  if (code === 'no-method-export') return `${pkg} is too old or too new for this @aio/auto: install matching versions`;
  if (code === 'probe-threw') return `a probe must never throw: please report this as a bug in ${pkg}`;
  if (/^addon not built/.test(reason)) {
    return `install what the build needs (see the reason), then npm rebuild ${pkg}`;
  }
  if (/^addon failed to load: Cannot find module '[^']*\/dist\//.test(reason)) {
    return `the package is incomplete (its dist/ is missing): reinstall it, or build it (pnpm --filter ${pkg} build) in a workspace`;
  }
  if (code === 'load-failed' || /^addon failed to load/.test(reason)) {
    return `reinstall or rebuild it (npm rebuild ${pkg}); a prebuilt addon must match this platform, arch and libc`;
  }
  return adviceForErrno(code, reason);
}

function adviceForErrno(code: string | undefined, reason: string): string | undefined {
  const disabled = /io_uring_disabled=(\d)/.exec(reason);
  if (disabled !== null && disabled[1] === '2') {
    return 'as root: sysctl -w kernel.io_uring_disabled=0 (io_uring is off for every process), or keep the fallback';
  }
  if (disabled !== null && disabled[1] === '1') {
    return 'add the user to the group in kernel.io_uring_group, or as root: sysctl -w kernel.io_uring_disabled=0';
  }
  if (/seccomp/i.test(reason)) {
    return (
      'a seccomp filter (Docker >= 25, containerd >= 2.0 and Kubernetes RuntimeDefault block io_uring) refuses the call: ' +
      'run with a profile that allows io_uring_setup, io_uring_enter and io_uring_register, or keep the fallback'
    );
  }
  if (code === 'ENOSYS' || /^ENOSYS/.test(reason)) {
    return 'the kernel has no io_uring (older than 5.1, built without CONFIG_IO_URING, or a sandbox such as gVisor): upgrade it, or keep the fallback';
  }
  if (code === 'ENOMEM' || /^ENOMEM/.test(reason)) {
    return 'raise the locked-memory limit (ulimit -l unlimited; docker run --ulimit memlock=-1:-1; systemd LimitMEMLOCK=infinity); kernels from 5.12 no longer charge rings to it';
  }
  if (code === 'EMFILE' || /^EMFILE/.test(reason)) return 'raise the open-file limit (ulimit -n)';
  if (code === 'EPERM' || /^EPERM/.test(reason)) return 'the kernel or a sandbox refuses it: see the reason, or keep the fallback';
  return undefined;
}
