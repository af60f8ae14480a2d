/**
 * The selector: finds the installed method packages, runs each one's live
 * probe once, and picks the first that works in the order of preference.
 *
 * Everything here is per module instance, which means per thread: the main
 * thread and every worker_thread load their own copy of @aio/auto, so each
 * probes once on its first call and caches the answers for its own later
 * calls.  That is also what a native probe needs, since a context-aware
 * addon is loaded and initialised per thread.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AIO_METHOD_NAMES,
  Aio,
  AioUsageError,
  libuvMethod,
  syncMethod,
  type AioMethodCapabilities,
  type AioMethodFactory,
  type AioMethodName,
  type AioProbeResult,
} from '@aio/core';
import { adviceFor, loadFailureCode } from './advice.js';
import { catalogEntry, isMethodName, runsOn, type MethodEntry } from './catalog.js';

/** Method-specific options, by method name, passed to each package's `method(options)`. */
export type MethodOptions = Partial<Record<AioMethodName, Readonly<Record<string, unknown>>>>;

/** One row of {@link Selector.list}: what the selector found out about one method. */
export interface MethodListing {
  readonly name: AioMethodName;
  /** The npm package that provides it. */
  readonly package: string;
  /** Whether the package is present (it may still fail to load). */
  readonly installed: boolean;
  /** Whether the package loaded and its live probe passed. */
  readonly available: boolean;
  /** One line: why it is unavailable, or what the probe verified. Probe reasons are shown verbatim. */
  readonly reason: string;
  /**
   * A machine-readable cause when unavailable: 'not-installed' (the package is
   * absent), 'binary-wrong-platform' (installed, but its binary is for another
   * platform, arch or libc), 'binary-not-installed', 'wrong-platform', 'EPERM', ...
   * (see SelectorCode in advice.ts).
   */
  readonly code?: string;
  /** What the user can do about it, when unavailable. */
  readonly advice?: string;
  /** The installed package's version. */
  readonly version?: string;
  /** What the probe reported beyond the reason (kernel, features...). */
  readonly details?: Readonly<Record<string, unknown>>;
  /** What the method can do; filled by `list({ capabilities: true })`. */
  capabilities?: AioMethodCapabilities;
  /** The factory to pass to `new Aio({ method })`; present when available. */
  readonly factory?: AioMethodFactory;
}

/** A better method the selector passed over, and why. */
export interface SkippedMethod {
  readonly name: AioMethodName;
  readonly installed: boolean;
  readonly reason: string;
  readonly code?: string;
  readonly advice?: string;
}

/** The answer of {@link Selector.choose}. */
export interface MethodChoice {
  readonly name: AioMethodName;
  readonly factory: AioMethodFactory;
  /** The methods before the chosen one in the order of preference, each with its reason. Empty when forced. */
  readonly skipped: readonly SkippedMethod[];
  /** Whether the method was forced with AIO_METHOD or `options.method`. */
  readonly forced: boolean;
}

export interface ChooseOptions {
  /** Forces a method by name; 'auto' (or absent) lets the selector choose.  Wins over AIO_METHOD. */
  readonly method?: AioMethodName | 'auto';
  /** Options for each method's factory. */
  readonly methodOptions?: MethodOptions;
}

export interface ListOptions {
  readonly methodOptions?: MethodOptions;
  /** Also fill `capabilities` of available methods (creates and closes one short-lived context per method). */
  readonly capabilities?: boolean;
}

/** How the selector reaches packages; replaced in tests. */
export interface PackageLoader {
  /** Imports a package by name, as `import(specifier)` from @aio/auto's own location. */
  import(specifier: string): Promise<unknown>;
  /** The installed version of a package, when it can be found. */
  version(specifier: string): string | undefined;
}

/** The module shape every backend package has (see the backend package conventions). */
interface MethodPackage {
  method?: unknown;
}

/** Loads packages from where this @aio/auto is installed, exactly as its own `import()` would. */
export const nodeLoader: PackageLoader = {
  import: (specifier) => import(specifier),
  version: installedVersion,
};

/**
 * Finds a package's package.json from its entry point (a package need not
 * export "./package.json") and returns its version.
 */
function installedVersion(specifier: string): string | undefined {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(specifier));
  } catch {
    return undefined;
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === specifier) return typeof manifest.version === 'string' ? manifest.version : undefined;
    } catch {
      // No package.json here (or an unreadable one): keep walking up.
    }
  }
  return undefined;
}

/** The forced method from the options or AIO_METHOD, or null to choose. */
interface ForcedMethod {
  readonly name: AioMethodName;
  /** How the user asked for it, for messages: 'AIO_METHOD=io_uring' or 'options.method "io_uring"'. */
  readonly source: string;
}

export class Selector {
  readonly #loader: PackageLoader;
  readonly #platform: NodeJS.Platform;
  readonly #arch: string;
  /** One probe per method and options, shared by concurrent callers. */
  readonly #cache = new Map<string, Promise<MethodListing>>();
  readonly #capabilities = new Map<MethodListing, Promise<void>>();

  constructor(loader: PackageLoader = nodeLoader, platform: NodeJS.Platform = process.platform, arch: string = process.arch) {
    this.#loader = loader;
    this.#platform = platform;
    this.#arch = arch;
  }

  /** Finds out about one method: loads its package and runs its probe, once per options. */
  inspect(name: AioMethodName, methodOptions?: MethodOptions): Promise<MethodListing> {
    const options = methodOptions?.[name];
    const key = options === undefined ? name : `${name} ${JSON.stringify(options)}`;
    let listing = this.#cache.get(key);
    if (listing === undefined) {
      listing = this.#examine(catalogEntry(name), options);
      this.#cache.set(key, listing);
    }
    return listing;
  }

  /** Every method, in the order of preference. */
  async list(options: ListOptions = {}): Promise<MethodListing[]> {
    checkMethodOptions(options.methodOptions);
    const listings = await Promise.all(AIO_METHOD_NAMES.map((name) => this.inspect(name, options.methodOptions)));
    if (options.capabilities === true) await Promise.all(listings.map((listing) => this.#fillCapabilities(listing)));
    return listings.map((listing) => ({ ...listing }));
  }

  /**
   * The method to use: the forced one if AIO_METHOD or `options.method`
   * names one (an AioUsageError if it cannot work here), else the first
   * available in the order of preference.  Methods after the chosen one are
   * not probed.
   */
  async choose(options: ChooseOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<MethodChoice> {
    checkMethodOptions(options.methodOptions);
    const forced = forcedMethod(options.method, env.AIO_METHOD);
    if (forced !== null) return this.#chooseForced(forced, options.methodOptions);
    const skipped: SkippedMethod[] = [];
    for (const name of AIO_METHOD_NAMES) {
      const listing = await this.inspect(name, options.methodOptions);
      if (listing.available && listing.factory !== undefined) {
        return { name, factory: listing.factory, skipped, forced: false };
      }
      skipped.push(skippedFrom(listing));
    }
    // Unreachable while the core's methods exist: libuv and sync are always available.
    throw new Error(`no IO method is available: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
  }

  async #chooseForced(forced: ForcedMethod, methodOptions: MethodOptions | undefined): Promise<MethodChoice> {
    const listing = await this.inspect(forced.name, methodOptions);
    if (listing.available && listing.factory !== undefined) {
      return { name: forced.name, factory: listing.factory, skipped: [], forced: true };
    }
    const others = (await this.list({ methodOptions })).filter((other) => other.available && other.name !== forced.name);
    const todo = listing.advice === undefined ? '' : ` What to do: ${listing.advice}.`;
    const fallback =
      others.length === 0
        ? ''
        : ` Or ${forced.source.startsWith('AIO_METHOD') ? 'unset AIO_METHOD' : 'leave out options.method'} to let @aio/auto choose ` +
          `(it would choose ${others[0].name}); methods available here: ${others.map((other) => other.name).join(', ')}.`;
    throw new AioUsageError(
      'AIO_ERR_METHOD_UNAVAILABLE',
      `${forced.source} asks for the ${forced.name} method, but it cannot be used here: ${listing.reason}.${todo}${fallback}`,
    );
  }

  async #examine(entry: MethodEntry, options: Readonly<Record<string, unknown>> | undefined): Promise<MethodListing> {
    // The core's own methods need no package import: @aio/auto depends on @aio/core.
    if (entry.name === 'sync') return fromProbe(entry, syncMethod(), this.#loader.version(entry.package));
    if (entry.name === 'libuv') return fromProbe(entry, libuvMethod(), this.#loader.version(entry.package));
    let module: MethodPackage;
    try {
      module = (await this.#loader.import(entry.package)) as MethodPackage;
    } catch (error) {
      return this.#importFailure(entry, error);
    }
    const version = this.#loader.version(entry.package);
    if (typeof module?.method !== 'function') {
      return unavailable(entry, true, 'no-method-export', `${entry.package} has no method() export`, version);
    }
    let factory: AioMethodFactory;
    try {
      factory = (module.method as (options?: unknown) => AioMethodFactory)(options);
    } catch (error) {
      // Bad options are the caller's mistake: say so instead of skipping the method.
      if (options !== undefined && error instanceof AioUsageError) throw error;
      return unavailable(entry, true, 'probe-threw', `${entry.package} method() threw: ${firstLine(error)}`, version);
    }
    return fromProbe(entry, factory, version);
  }

  #importFailure(entry: MethodEntry, error: unknown): MethodListing {
    if (!isPackageMissing(error, entry.package)) {
      return unavailable(entry, true, 'load-failed', `addon failed to load: ${firstLine(error)}`, this.#loader.version(entry.package));
    }
    if (!runsOn(entry, this.#platform)) {
      const reason = `wrong platform: ${entry.name} needs ${entry.needs} (this is ${this.#platform} ${this.#arch})`;
      return unavailable(entry, false, 'wrong-platform', reason);
    }
    return unavailable(entry, false, 'not-installed', `not installed (npm i ${entry.package})`);
  }

  /** Learns the capabilities of an available method from a short-lived context. */
  #fillCapabilities(listing: MethodListing): Promise<void> {
    if (!listing.available || listing.factory === undefined || listing.capabilities !== undefined) return Promise.resolve();
    let pending = this.#capabilities.get(listing);
    if (pending === undefined) {
      pending = capabilitiesOf(listing.factory).then((capabilities) => {
        if (capabilities !== undefined) listing.capabilities = capabilities;
      });
      this.#capabilities.set(listing, pending);
    }
    return pending;
  }
}

/** Runs a factory's probe, which must never throw (a throw is reported, not propagated). */
function fromProbe(entry: MethodEntry, factory: AioMethodFactory, version: string | undefined): MethodListing {
  if (factory?.name !== entry.name || typeof factory.probe !== 'function') {
    const reason = `${entry.package} provides ${JSON.stringify(factory?.name)}, not a ${entry.name} method factory`;
    return unavailable(entry, true, 'no-method-export', reason, version);
  }
  let probe: AioProbeResult;
  try {
    probe = factory.probe();
  } catch (error) {
    return unavailable(entry, true, 'probe-threw', `probe threw: ${firstLine(error)}`, version);
  }
  const reason = typeof probe?.reason === 'string' && probe.reason !== '' ? probe.reason : 'the probe gave no reason';
  const details = probe?.details === undefined ? {} : { details: probe.details };
  if (probe?.available !== true) {
    // An installed package whose addon is missing or does not load is not "not installed": say which case it is.
    const code = loadFailureCode(reason) ?? probe?.code ?? undefined;
    return { ...unavailable(entry, true, code, reason, version), ...details };
  }
  return { name: entry.name, package: entry.package, installed: true, available: true, reason, version, ...details, factory };
}

function unavailable(entry: MethodEntry, installed: boolean, code: string | undefined, reason: string, version?: string): MethodListing {
  const advice = adviceFor(entry, code, reason);
  return {
    name: entry.name,
    package: entry.package,
    installed,
    available: false,
    reason,
    ...(code === undefined ? {} : { code }),
    ...(advice === undefined ? {} : { advice }),
    ...(version === undefined ? {} : { version }),
  };
}

function skippedFrom(listing: MethodListing): SkippedMethod {
  const { name, installed, reason, code, advice } = listing;
  return { name, installed, reason, ...(code === undefined ? {} : { code }), ...(advice === undefined ? {} : { advice }) };
}

/**
 * Node says "Cannot find package '<name>' imported from ..." when the
 * package itself is absent; any other failure (its dist/ missing, a broken
 * dependency, an addon that does not load) means it is there but broken.
 */
function isPackageMissing(error: unknown, specifier: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'ERR_MODULE_NOT_FOUND' && typeof message === 'string' && message.startsWith(`Cannot find package '${specifier}'`);
}

function forcedMethod(option: string | undefined, fromEnv: string | undefined): ForcedMethod | null {
  if (option !== undefined) {
    if (typeof option !== 'string') {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `options.method must be a method name such as 'io_uring', got ${typeof option}`);
    }
    return option === 'auto' ? null : checkName(option, `options.method ${JSON.stringify(option)}`);
  }
  const value = fromEnv?.trim() ?? '';
  return value === '' || value === 'auto' ? null : checkName(value, `AIO_METHOD=${value}`);
}

function checkMethodOptions(methodOptions: MethodOptions | undefined): void {
  if (methodOptions === undefined) return;
  if (typeof methodOptions !== 'object' || methodOptions === null) {
    throw new AioUsageError('AIO_ERR_INVALID_TYPE', `options.methodOptions must be an object keyed by method name, got ${methodOptions === null ? 'null' : typeof methodOptions}`);
  }
  for (const key of Object.keys(methodOptions)) {
    if (!isMethodName(key)) {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `options.methodOptions has a key ${JSON.stringify(key)} that is not an IO method; the methods are ${AIO_METHOD_NAMES.join(', ')}`);
    }
  }
}

function checkName(value: string, source: string): ForcedMethod {
  if (!isMethodName(value)) {
    throw new AioUsageError(
      'AIO_ERR_INVALID_OPTION',
      `${source} is not an IO method; the methods are ${AIO_METHOD_NAMES.join(', ')} (or 'auto' to let @aio/auto choose)`,
    );
  }
  return { name: value, source };
}

async function capabilitiesOf(factory: AioMethodFactory): Promise<AioMethodCapabilities | undefined> {
  let aio: Aio;
  try {
    aio = new Aio({ method: factory });
  } catch {
    return undefined;
  }
  try {
    return aio.capabilities;
  } finally {
    await aio.close();
  }
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0];
}

/**
 * This thread's selector, shared by `createAio()`, `chooseMethod()`,
 * `listMethods()` and `aio doctor`.  Its cache lives as long as this module
 * instance: the process for the main thread, the worker for a worker_thread.
 */
export const threadSelector = new Selector();
