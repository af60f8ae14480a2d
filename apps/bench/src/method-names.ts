/** Method names, as the specification fixes them for AIO_METHOD, the CLIs and this benchmark. */

export const AIO_METHOD_NAMES = ['io_uring', 'iocp', 'kqueue', 'posix_aio', 'threadpool', 'libuv', 'sync'] as const;

export const BASELINE_NAMES = [
  'node-fs-promises',
  'node-fs-callback',
  'node-fs-sync',
  'fio-io_uring',
  'fio-psync',
] as const;

export type BaselineName = (typeof BASELINE_NAMES)[number];

/** `auto` stands for whatever method @aio/auto selects on this machine. */
export const AUTO_METHOD = 'auto';

/** The row every ratio is computed against. */
export const RATIO_BASELINE: BaselineName = 'node-fs-promises';

export function isBaselineName(name: string): name is BaselineName {
  return (BASELINE_NAMES as readonly string[]).includes(name);
}

export function isKnownMethodName(name: string): boolean {
  return name === AUTO_METHOD || isBaselineName(name) || (AIO_METHOD_NAMES as readonly string[]).includes(name);
}
