/**
 * What the selector knows about each method before loading anything: the
 * package that provides it and the platforms it can work on.
 *
 * The platform list is only used for a method whose package is not
 * installed, so that a Linux user is told "wrong platform" for iocp instead
 * of being asked to install a package that could never work there.  An
 * installed package always answers for itself through its probe.
 */
import { AIO_METHOD_NAMES, type AioMethodName } from '@aio/core';

export interface MethodEntry {
  readonly name: AioMethodName;
  /** The npm package that provides the method (`@aio/core` for `libuv` and `sync`). */
  readonly package: string;
  /** The values of `process.platform` the method can work on; null for every platform. */
  readonly platforms: readonly NodeJS.Platform[] | null;
  /** The platform requirement in words, for "wrong platform" reasons. */
  readonly needs: string;
}

/** Every method, in the order of preference (the order of `AIO_METHOD_NAMES`). */
export const METHOD_CATALOG: readonly MethodEntry[] = [
  { name: 'io_uring', package: '@aio/io-uring', platforms: ['linux'], needs: 'Linux' },
  { name: 'iocp', package: '@aio/iocp', platforms: ['win32'], needs: 'Windows' },
  { name: 'kqueue', package: '@aio/kqueue', platforms: ['freebsd'], needs: 'FreeBSD' },
  {
    name: 'posix_aio',
    package: '@aio/posix-aio',
    platforms: ['linux', 'darwin', 'freebsd', 'netbsd', 'sunos', 'aix'],
    needs: 'a system with POSIX aio (Linux glibc, macOS, illumos)',
  },
  { name: 'threadpool', package: '@aio/threadpool', platforms: null, needs: 'any platform' },
  { name: 'libuv', package: '@aio/core', platforms: null, needs: 'any platform' },
  { name: 'sync', package: '@aio/core', platforms: null, needs: 'any platform' },
];

// The catalog and the core's list must agree; a method added to the core
// without an entry here would never be selected.
if (METHOD_CATALOG.map((entry) => entry.name).join() !== AIO_METHOD_NAMES.join()) {
  throw new Error('@aio/auto: METHOD_CATALOG is out of step with AIO_METHOD_NAMES in @aio/core');
}

/** The package that provides each method. */
export const METHOD_PACKAGES: Readonly<Record<AioMethodName, string>> = Object.fromEntries(
  METHOD_CATALOG.map((entry) => [entry.name, entry.package]),
) as Record<AioMethodName, string>;

export function catalogEntry(name: AioMethodName): MethodEntry {
  return METHOD_CATALOG.find((entry) => entry.name === name) as MethodEntry;
}

export function isMethodName(value: string): value is AioMethodName {
  return (AIO_METHOD_NAMES as readonly string[]).includes(value);
}

/** Whether `platform` is one the method can work on at all. */
export function runsOn(entry: MethodEntry, platform: NodeJS.Platform): boolean {
  return entry.platforms === null || entry.platforms.includes(platform);
}
