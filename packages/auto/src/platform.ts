/**
 * The platform facts `aio doctor` prints next to the methods: the things a
 * user (or a bug report) needs to explain why a method is or is not
 * available.  Reading them never fails: a fact that cannot be read is null.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { release, version } from 'node:os';

export interface PlatformFacts {
  /** `process.platform`. */
  readonly os: NodeJS.Platform;
  readonly arch: string;
  /** The kernel release (`uname -r`). */
  readonly kernel: string;
  /** The kernel build string (`uname -v`). */
  readonly kernelVersion: string;
  /** `/proc/sys/kernel/io_uring_disabled` (Linux 6.6+): 0 allowed, 1 only for kernel.io_uring_group, 2 off. Null when absent. */
  readonly ioUringDisabled: number | null;
  /** `/proc/sys/kernel/io_uring_group`: the group allowed when io_uring_disabled is 1 (-1: none). */
  readonly ioUringGroup: number | null;
  /** This process's seccomp mode from /proc/self/status: 'none', 'strict' or 'filter'. */
  readonly seccomp: 'none' | 'strict' | 'filter' | null;
  /** The soft RLIMIT_MEMLOCK in bytes, or 'unlimited' (kernels before 5.12 charge io_uring rings to it). */
  readonly memlock: number | 'unlimited' | null;
  readonly libc: { readonly family: 'glibc' | 'musl'; readonly version: string | null } | null;
  /** A container runtime when there are signs of one ('docker', 'podman', or the `container` variable). */
  readonly container: string | null;
  readonly node: string;
  /** The highest Node-API version this Node supports (the addons need 8). */
  readonly napi: string;
  readonly uv: string;
  /** The effective user id (POSIX), or null. */
  readonly uid: number | null;
  /**
   * The platform id of the prebuilt binaries for this process (`linux-x64-gnu`,
   * `linux-arm64-musl`, `win32-x64`, `darwin-arm64`, ...): the backend
   * `@aio/<backend>` loads its binary from `@aio/<backend>-<platformId>`.
   */
  readonly platformId: string;
  /**
   * The copies of @aio/core loaded on this thread, as they register
   * themselves (packages/core/src/copies.ts); more than one is a broken
   * install.  Empty with a core that does not register.
   */
  readonly coreCopies: ReadonlyArray<{ readonly version: string; readonly path: string }>;
}

let hostLibc: PlatformFacts['libc'] | undefined;

/**
 * The platform id for `os`, `arch` and a Linux libc family, as the platform
 * packages are named (the rule of @aio/core's native loader): `-gnu` or
 * `-musl` after the arch on Linux only.
 */
export function platformId(
  os: NodeJS.Platform = process.platform,
  arch: string = process.arch,
  family: 'glibc' | 'musl' | null = os === 'linux' ? ((hostLibc ??= libcOf())?.family ?? 'glibc') : null,
): string {
  return `${os}-${arch}${family === null ? '' : family === 'musl' ? '-musl' : '-gnu'}`;
}

/** Collects the facts of the running process and machine. */
export function platformFacts(): PlatformFacts {
  const linux = process.platform === 'linux';
  return {
    os: process.platform,
    arch: process.arch,
    kernel: release(),
    kernelVersion: version(),
    ioUringDisabled: linux ? readInteger('/proc/sys/kernel/io_uring_disabled') : null,
    ioUringGroup: linux ? readInteger('/proc/sys/kernel/io_uring_group') : null,
    seccomp: linux ? seccompMode() : null,
    memlock: linux ? memlockLimit() : null,
    libc: linux ? (hostLibc ??= libcOf()) : null,
    container: linux ? containerOf() : null,
    node: process.version,
    napi: process.versions.napi ?? 'unknown',
    uv: process.versions.uv ?? 'unknown',
    uid: typeof process.geteuid === 'function' ? process.geteuid() : null,
    platformId: platformId(),
    coreCopies: coreCopies(),
  };
}

/** The registry @aio/core's copies.ts keeps on globalThis (read directly: any copy of any version may have written it). */
function coreCopies(): PlatformFacts['coreCopies'] {
  const copies = (globalThis as Record<symbol, unknown>)[Symbol.for('@aio/core.copies')];
  if (!Array.isArray(copies)) return [];
  return copies.map((copy: { version?: unknown; path?: unknown }) => ({ version: String(copy.version), path: String(copy.path) }));
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function readInteger(path: string): number | null {
  const text = readText(path);
  if (text === null) return null;
  const value = Number.parseInt(text.trim(), 10);
  return Number.isNaN(value) ? null : value;
}

function seccompMode(): PlatformFacts['seccomp'] {
  const match = /^Seccomp:\s*(\d)/m.exec(readText('/proc/self/status') ?? '');
  if (match === null) return null;
  return match[1] === '0' ? 'none' : match[1] === '1' ? 'strict' : 'filter';
}

function memlockLimit(): PlatformFacts['memlock'] {
  const match = /^Max locked memory\s+(\S+)/m.exec(readText('/proc/self/limits') ?? '');
  if (match === null) return null;
  if (match[1] === 'unlimited') return 'unlimited';
  const bytes = Number(match[1]);
  return Number.isFinite(bytes) ? bytes : null;
}

/**
 * glibc reports its version through Node's diagnostic report; musl does not,
 * so it is recognised by its dynamic loader, whose banner holds the version.
 */
function libcOf(): PlatformFacts['libc'] {
  // excludeNetwork (Node 20.13+) skips the slow DNS lookups of network interfaces.
  const report = process.report as NodeJS.ProcessReport & { excludeNetwork?: boolean };
  const excludeNetwork = report.excludeNetwork;
  report.excludeNetwork = true;
  let header: { glibcVersionRuntime?: string } = {};
  try {
    header = (report.getReport() as { header?: { glibcVersionRuntime?: string } }).header ?? {};
  } catch {
    // Reports can be disabled by policy; fall through to the musl check.
  } finally {
    report.excludeNetwork = excludeNetwork;
  }
  if (typeof header.glibcVersionRuntime === 'string') return { family: 'glibc', version: header.glibcVersionRuntime };
  const loader = muslLoader();
  if (loader === null) return null;
  const banner = spawnSync(loader, [], { encoding: 'utf8', timeout: 2000 }).stderr ?? '';
  return { family: 'musl', version: /Version\s+(\S+)/.exec(banner)?.[1] ?? null };
}

function muslLoader(): string | null {
  try {
    const name = readdirSync('/lib').find((file) => file.startsWith('ld-musl-'));
    return name === undefined ? null : `/lib/${name}`;
  } catch {
    return null;
  }
}

function containerOf(): string | null {
  if (existsSync('/.dockerenv')) return 'docker';
  if (existsSync('/run/.containerenv')) return 'podman';
  const variable = process.env.container;
  return variable === undefined || variable === '' ? null : variable;
}
