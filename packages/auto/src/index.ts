/**
 * @aio/auto: picks the best IO method for @aio/core that is installed and
 * really works here, and says why each better one was skipped.  See
 * README.md for the design and the decision table.
 */
import { Aio, AioUsageError, AIO_METHOD_NAMES, type AioMethodName } from '@aio/core';
import { threadSelector as selector, type ChooseOptions, type ListOptions, type MethodChoice, type MethodListing } from './selector.js';

export { METHOD_PACKAGES, METHOD_CATALOG } from './catalog.js';
export type { MethodEntry } from './catalog.js';
export type { ChooseOptions, ListOptions, MethodChoice, MethodListing, MethodOptions, SkippedMethod } from './selector.js';
export { platformFacts } from './platform.js';
export type { PlatformFacts } from './platform.js';
export { doctorReport, doctorJson, formatDoctor } from './doctor.js';
export type { DoctorReport, DoctorMethod } from './doctor.js';

/** The order of preference: io_uring > iocp > kqueue > posix_aio > threadpool > libuv > sync. */
export const METHOD_ORDER: readonly AioMethodName[] = AIO_METHOD_NAMES;

export interface CreateAioOptions extends ChooseOptions {
  /** The number of handles of the context (see `AioOptions.maxConcurrency` in @aio/core). */
  readonly maxConcurrency?: number;
}

const CREATE_OPTION_KEYS = ['method', 'methodOptions', 'maxConcurrency'];

/**
 * Creates an `Aio` context on the best method that is installed and passes
 * its live probe, in the order io_uring > iocp > kqueue > posix_aio >
 * threadpool > libuv > sync.  `AIO_METHOD=<name>` or `options.method` forces one
 * (the option wins over the variable).
 *
 * Throws (rejects with) an AioUsageError: `AIO_ERR_METHOD_UNAVAILABLE` when
 * the forced method is not installed or fails its probe, with the reason and
 * what to do; `AIO_ERR_INVALID_OPTION` for a name that is not a method or an
 * unknown option.  Never fails because an optional backend is missing.
 */
export async function createAio(options: CreateAioOptions = {}): Promise<Aio> {
  checkOptions(options);
  const choice = await selector.choose(options);
  const aio = new Aio({ method: choice.factory, ...(options.maxConcurrency === undefined ? {} : { maxConcurrency: options.maxConcurrency }) });
  if (debugEnabled()) process.stderr.write(`aio: ${describeChoice(choice)}\n`);
  return aio;
}

/**
 * Returns the method `createAio()` would use, its factory (for
 * `new Aio({ method: factory })`) and the better methods it skipped, each
 * with its reason.  Rejects as `createAio()` does for a forced method.
 */
export function chooseMethod(options: ChooseOptions = {}): Promise<MethodChoice> {
  return selector.choose(options);
}

/**
 * Every method in the order of preference: whether its package is installed,
 * whether its probe passed, and the reason (verbatim from the probe).
 * Probes run once per thread; later calls return the cached answers.
 */
export function listMethods(options: ListOptions = {}): Promise<MethodListing[]> {
  return selector.list(options);
}

/** One line saying what was chosen and why, as `AIO_DEBUG=select` prints it. */
export function describeChoice(choice: MethodChoice): string {
  if (choice.forced) return `using ${choice.name} (forced)`;
  if (choice.skipped.length === 0) return `using ${choice.name}`;
  return `using ${choice.name}; skipped ${choice.skipped.map((skipped) => `${skipped.name} (${skipped.reason})`).join(', ')}`;
}

function checkOptions(options: CreateAioOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `createAio() options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!CREATE_OPTION_KEYS.includes(key)) {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `unknown createAio() option ${JSON.stringify(key)}; the options are ${CREATE_OPTION_KEYS.join(', ')}`);
    }
  }
}

function debugEnabled(): boolean {
  return process.env.AIO_DEBUG?.split(',').includes('select') ?? false;
}
