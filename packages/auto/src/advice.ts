/**
 * What a user can do about each reason a method was skipped: the last
 * column of the decision table in README.md.  The reasons themselves come
 * from the selector (package missing, wrong platform, load failure) or,
 * verbatim, from each backend's probe; this file only adds the advice and
 * never rewrites a reason.
 */
import type { MethodEntry } from './catalog.js';
import { platformId } from './platform.js';

/**
 * Machine-readable causes the selector itself assigns (probes add their own,
 * such as 'EPERM').  The package itself: 'not-installed' (absent),
 * 'wrong-platform' (the mechanism does not exist on this OS).  Its binary,
 * from @aio/core's native loader: 'binary-not-installed' (no platform
 * package installed), 'binary-wrong-platform' (only platform packages for
 * another platform, arch or libc are installed), 'no-prebuilt' (none is
 * published for this platform), 'not-built' (a repository checkout whose
 * build was skipped), 'load-failed' (a binary is there and does not load).
 */
export type SelectorCode =
  | 'not-installed'
  | 'wrong-platform'
  | 'binary-not-installed'
  | 'binary-wrong-platform'
  | 'no-prebuilt'
  | 'not-built'
  | 'load-failed'
  | 'no-method-export'
  | 'probe-threw';

/**
 * The code of a load failure from its reason.  @aio/core's loader words its
 * reasons with stable openings; the probe's code cannot be trusted for them,
 * because older cores report every load failure as 'not-installed'.
 */
export function loadFailureCode(reason: string): SelectorCode | undefined {
  if (reason.startsWith('binary installed for another platform')) return 'binary-wrong-platform';
  if (reason.startsWith('no binary for this platform')) return 'binary-not-installed';
  if (reason.startsWith('no prebuilt binary')) return 'no-prebuilt';
  if (reason.startsWith('addon not built')) return 'not-built';
  if (reason.startsWith('addon failed to load')) return 'load-failed';
  return undefined;
}

/**
 * Returns one sentence saying what to do about an unavailable method, or
 * undefined when there is nothing useful to say.  `code` is the probe's (or
 * the selector's) code when there is one; the reason text is matched too,
 * because a probe is not required to set a code.
 */
export function adviceFor(entry: MethodEntry, code: string | undefined, reason: string): string | undefined {
  const pkg = entry.package;
  const loadCode = loadFailureCode(reason);
  if (code === 'not-installed' && loadCode === undefined) return `npm i ${pkg}`;
  if (code === 'wrong-platform' || /^wrong platform/.test(reason)) {
    return `nothing to do: ${entry.name} needs ${entry.needs}; the selector uses the next method`;
  }
  if (code === 'no-method-export') return `${pkg} is too old or too new for this @aio/auto: install matching versions`;
  if (code === 'probe-threw') return `a probe must never throw: please report this as a bug in ${pkg}`;
  return loadCode === undefined && code !== 'load-failed' ? adviceForErrno(code, reason) : adviceForLoad(pkg, loadCode ?? 'load-failed', reason);
}

/** What to do when a package is installed but its addon is not there or does not load. */
function adviceForLoad(pkg: string, code: SelectorCode, reason: string): string {
  // The loader's reason ends with the exact command for these two; the advice is that command.
  const fix = /; fix: (npm install .*)$/.exec(reason)?.[1];
  if ((code === 'binary-wrong-platform' || code === 'binary-not-installed') && fix !== undefined) return fix;
  if (code === 'no-prebuilt') return `nothing to install: ${pkg} publishes no binary for ${platformId()}; the selector uses the next method`;
  if (code === 'not-built') return `install what the build needs (see the reason), then build it again (pnpm --filter ${pkg} build in the repository)`;
  if (/Cannot find module '[^']*\/dist\//.test(reason)) {
    return `the package is incomplete (its dist/ is missing): reinstall it, or build it (pnpm --filter ${pkg} build) in a workspace`;
  }
  const glibc = /needs glibc (>=\s*[\d.]+)/.exec(reason)?.[1];
  if (glibc !== undefined) return `the prebuilt binary needs glibc ${glibc}: run on a newer distribution, or keep the fallback`;
  return `reinstall ${pkg} on this machine (delete node_modules, then npm install) so that the binary for ${platformId()} is installed`;
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
