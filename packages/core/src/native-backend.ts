/**
 * What a native backend package declares, and the package it gets for it.
 *
 * Every backend (io_uring, threadpool, posix_aio, iocp, kqueue) exports the
 * same things: a factory (and its alias `method`), `probe`, and usually
 * `loadBinding`.  What those do around the addon is the same everywhere, so
 * it lives here once, and a backend's `src/index.ts` declares only what is
 * its own: the addon's name, the platform it needs, its options with their
 * limits, its live check and what one context is made of.  What must stay
 * true, for every backend:
 *
 * - The addon is loaded once per thread.  A missing or unloadable addon, or
 *   the wrong platform, is a reason the probe reports, never an exception;
 *   `create()` then throws AIO_ERR_METHOD_UNAVAILABLE with that reason.
 * - Options are checked when the factory is made, so a bad option is an
 *   AioUsageError at once (at `new Aio`, not at the first IO); the probe
 *   reports bad options (code `invalid-options`) instead of throwing.
 * - The live check runs at most once per thread and probe key, and never
 *   throws: a throw becomes an unavailable answer (code `probe-failed`).
 * - A context is created only where the (cached) probe said yes.
 * - IO that may run on another thread never carries memory only the issuing
 *   thread may touch (PostgreSQL's X14): such IO runs synchronously.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getSystemErrorName } from 'node:util';
import { AioIoError, AioUsageError, type AioUsageErrorCode } from './errors.js';
import type { AioFile, AioOpenFlags } from './file.js';
import { AIO_FLAG_REFERENCES_LOCAL } from './handle.js';
import {
  AIO_OP,
  type AioIoView,
  type AioMethod,
  type AioMethodCapabilities,
  type AioMethodContext,
  type AioMethodFactory,
  type AioMethodHost,
  type AioMethodName,
  type AioOpName,
  type AioProbeResult,
} from './method.js';
import { NativeMethod, loadNativeBinding, unavailableMethod, type AioNativeBinding, type AioNativeContext, type NativeMethodSpec } from './native-method.js';
import { describeValue } from './validate.js';

/* ------------------------------------------------------------------ options */

/** What kind of mistake an option value is; each kind has its AioUsageError code. */
export type NativeOptionProblem = 'type' | 'range' | 'value';

/** Throws the AioUsageError for option `message` ("entries must be ..."); the caller names the method. */
export type NativeOptionFailure = (problem: NativeOptionProblem, message: string) => never;

/**
 * How one option is checked: `check` gets the value the user gave (never
 * undefined) and returns what the backend keeps, or calls `fail`.
 */
export interface NativeOptionRule<T> {
  check(value: unknown, name: string, fail: NativeOptionFailure): T;
}

/** A backend's options: each name with its rule. */
export type NativeOptionSchema = Readonly<Record<string, NativeOptionRule<unknown>>>;

/** The options a schema accepts, after checking: only those the user gave. */
export type CheckedOptions<S extends NativeOptionSchema> = { -readonly [K in keyof S]?: S[K] extends NativeOptionRule<infer T> ? T : never };

/**
 * The codes of option errors by kind.  'value' (a name not among the
 * allowed ones) and unknown options are always AIO_ERR_INVALID_OPTION; a
 * backend may give wrong types and out-of-range numbers the core's
 * AIO_ERR_INVALID_TYPE and AIO_ERR_OUT_OF_RANGE (posix_aio does).
 */
export type NativeOptionErrorCodes = Readonly<Partial<Record<'type' | 'range', AioUsageErrorCode>>>;

/** The rules options are made of. */
export const nativeOption = {
  /** An integer from `min` to `max`. */
  integer(min: number, max: number): NativeOptionRule<number> {
    return {
      check(value, name, fail) {
        if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
          fail('range', `${name} must be an integer from ${min} to ${max}, got ${describeValue(value)}`);
        }
        return value as number;
      },
    };
  },

  /** `true` or `false`. */
  boolean(): NativeOptionRule<boolean> {
    return {
      check(value, name, fail) {
        if (typeof value !== 'boolean') fail('type', `${name} must be a boolean, got ${describeValue(value)}`);
        return value as boolean;
      },
    };
  },

  /** One of `values`. */
  oneOf<const T extends string>(values: readonly T[]): NativeOptionRule<T> {
    return {
      check(value, name, fail) {
        if (!values.includes(value as T)) {
          fail('value', `${name} must be one of ${values.map((v) => `'${v}'`).join(', ')}, got ${describeValue(value)}`);
        }
        return value as T;
      },
    };
  },

  /** `true` (which means `whenTrue`), `false` (0), or an integer from `min` to `max`. */
  switchOrInteger(min: number, max: number, whenTrue: number): NativeOptionRule<number> {
    const integer = nativeOption.integer(min, max);
    return {
      check(value, name, fail) {
        if (typeof value === 'boolean') return value ? whenTrue : 0;
        return integer.check(value, name, fail);
      },
    };
  },

  /**
   * A list of op names, kept as the bit mask native code reads (bit
   * `AIO_OP[op]` set for each): ops the method sends to the synchronous
   * fallback instead of the OS.
   */
  opMask(): NativeOptionRule<number> {
    return {
      check(value, name, fail) {
        if (!Array.isArray(value)) fail('type', `${name} must be an array of op names, got ${describeValue(value)}`);
        let mask = 0;
        for (const op of value as unknown[]) {
          const code = typeof op === 'string' && Object.hasOwn(AIO_OP, op) ? AIO_OP[op as AioOpName] : 0;
          if (code === 0) fail('value', `${name}: unknown op ${JSON.stringify(op)}`);
          mask |= 1 << code;
        }
        return mask;
      },
    };
  },
};

/**
 * Checks a backend's options against its schema: an object (or undefined),
 * no unknown names, every given value valid.  Returns the checked values;
 * throws AioUsageError saying which option and what it must be.
 */
export function checkNativeOptions<S extends NativeOptionSchema>(
  method: AioMethodName,
  schema: S,
  options: unknown,
  codes: NativeOptionErrorCodes = {},
): CheckedOptions<S> {
  const fail: NativeOptionFailure = (problem, message) => {
    const code = problem === 'value' ? 'AIO_ERR_INVALID_OPTION' : (codes[problem] ?? 'AIO_ERR_INVALID_OPTION');
    throw new AioUsageError(code, `${method} option ${message}`);
  };
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new AioUsageError(codes.type ?? 'AIO_ERR_INVALID_OPTION', `${method} options must be an object, got ${describeValue(options)}`);
  }
  const given = options as Record<string, unknown>;
  const known = Object.keys(schema);
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(schema, key)) {
      const list = known.length === 0 ? 'it takes none' : `known: ${known.join(', ')}`;
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `unknown ${method} option ${JSON.stringify(key)} (${list})`);
    }
  }
  const checked: Record<string, unknown> = {};
  for (const key of known) {
    if (given[key] !== undefined) checked[key] = schema[key].check(given[key], key, fail);
  }
  return checked as CheckedOptions<S>;
}

/* ------------------------------------------------------------------ the addon */

/** A backend's addon, or why it is not there (`code` as the probe reports it). */
export type NativeBindingLoad<B> = { binding: B } | { reason: string; code: string };

/** Where a backend's addon comes from. */
export interface NativeAddonSource {
  readonly name: AioMethodName;
  /** The backend package's `import.meta.url`: the addon is found next to its `dist/`. */
  readonly packageUrl: string | URL;
  /** The addon's file name without `.node` (`aio_io_uring`). */
  readonly addon: string;
  /**
   * The one platform the mechanism exists on, and what the others lack
   * (the reason after "wrong platform: "); elsewhere the addon is not even
   * looked for.
   */
  readonly platform?: { readonly only: NodeJS.Platform; readonly reason: (platform: NodeJS.Platform) => string };
  /** An environment variable that may name another build of the addon by path (memcheck scripts). */
  readonly addonPathVariable?: string;
  /** The probe's code for a missing or unloadable addon (default `not-installed`). */
  readonly missingCode?: string;
}

/**
 * Returns a loader for the addon of `source` that loads it once (module
 * state is per thread, so once per thread) and remembers the answer.
 */
export function nativeAddonLoader<B extends AioNativeBinding>(source: NativeAddonSource): () => NativeBindingLoad<B> {
  let loaded: NativeBindingLoad<B> | undefined;
  return () => (loaded ??= loadAddon<B>(source));
}

function loadAddon<B>(source: NativeAddonSource): NativeBindingLoad<B> {
  const { platform } = source;
  if (platform !== undefined && process.platform !== platform.only) {
    return { reason: `wrong platform: ${platform.reason(process.platform)}`, code: 'wrong-platform' };
  }
  const override = source.addonPathVariable === undefined ? undefined : process.env[source.addonPathVariable];
  let result: { binding: B } | { reason: string };
  if (override !== undefined && override !== '') {
    try {
      result = { binding: createRequire(source.packageUrl)(override) as B };
    } catch (error) {
      result = { reason: `addon failed to load from ${source.addonPathVariable}=${override}: ${firstLine(error)}` };
    }
  } else {
    result = loadNativeBinding<B>(source.packageUrl, source.addon);
  }
  if ('binding' in result) return result;
  // A build skipped for this platform records "wrong platform: ..." as its reason.
  return { reason: result.reason, code: /wrong platform/.test(result.reason) ? 'wrong-platform' : (source.missingCode ?? 'not-installed') };
}

/**
 * Returns a probe over `loadBinding`: the loader's reason when the addon is
 * not there, else the answer of the live check `run`, computed once per
 * `key` of the options (per thread) and never thrown.
 */
export function nativeProber<B, O>(
  loadBinding: () => NativeBindingLoad<B>,
  run: (binding: B, options: O) => AioProbeResult,
  key: (options: O) => string = () => '',
): (options: O) => AioProbeResult {
  const answers = new Map<string, AioProbeResult>();
  return (options) => {
    const loaded = loadBinding();
    if ('reason' in loaded) return { available: false, reason: loaded.reason, code: loaded.code };
    const which = key(options);
    let answer = answers.get(which);
    if (answer === undefined) {
      answer = liveCheck(() => run(loaded.binding, options));
      answers.set(which, answer);
    }
    return answer;
  };
}

/** Runs a live check; a throw is an answer too (a probe must never throw). */
function liveCheck(run: () => AioProbeResult): AioProbeResult {
  try {
    return run();
  } catch (error) {
    return { available: false, reason: `probe failed: ${firstLine(error)}`, code: 'probe-failed' };
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}

/* ------------------------------------------------------------------ the package */

/**
 * What one context's NativeMethod is made of (see {@link NativeMethodSpec};
 * the name comes from the definition).  `waitOnFileBeforeClose` defaults to
 * true: an IO the OS or a thread holds must not find its file closed, or
 * its number reused by the next open.  `needsSynchronousExecution` defaults
 * to the references-local rule when IO completes on other threads.
 */
export type NativeContextSpec = Omit<NativeMethodSpec, 'name' | 'waitOnFileBeforeClose'> & { readonly waitOnFileBeforeClose?: boolean };

/** A backend, as its `src/index.ts` declares it. */
export interface NativeMethodDefinition<B extends AioNativeBinding, S extends NativeOptionSchema> extends NativeAddonSource {
  /** The options the factory and the probe accept. */
  readonly options: S;
  /** Codes for wrong types and out-of-range values (default AIO_ERR_INVALID_OPTION). */
  readonly optionErrorCodes?: NativeOptionErrorCodes;
  /**
   * The live check that the mechanism works here.  Runs once per thread
   * and {@link probeKey}; may throw (reported as unavailable).
   */
  probe(binding: B, options: CheckedOptions<S>): AioProbeResult;
  /** What in the options changes the probe's answer (default: nothing, one answer per thread). */
  probeKey?(options: CheckedOptions<S>): string;
  /** Adds what changes from call to call (live counts, the options) to an available answer. */
  describeProbe?(result: AioProbeResult, binding: B, options: CheckedOptions<S>): AioProbeResult;
  /** What one context is made of; called by `create()` on the context's thread. */
  context(binding: B, options: CheckedOptions<S>, context: AioMethodContext): NativeContextSpec;
  /** Makes the method object when the backend extends NativeMethod (default: a NativeMethod). */
  construct?(binding: B, spec: NativeMethodSpec, host: AioMethodHost, context: AioMethodContext): AioMethod;
}

/** What {@link defineNativeMethod} gives a backend to export. */
export interface NativeMethodPackage<B extends AioNativeBinding> {
  readonly name: AioMethodName;
  /** The addon, or why it is not there; loaded once per thread. */
  loadBinding(): NativeBindingLoad<B>;
  /** The addon, or AioUsageError('AIO_ERR_METHOD_UNAVAILABLE') with the reason. */
  requireBinding(): B;
  /** The live check; never throws (bad options are reported with code `invalid-options`). */
  probe(options?: unknown): AioProbeResult;
  /** The method's factory; throws AioUsageError at once for bad options. */
  factory(options?: unknown): AioMethodFactory;
}

/** Builds a backend's package from its {@link NativeMethodDefinition}. */
export function defineNativeMethod<B extends AioNativeBinding, S extends NativeOptionSchema>(
  definition: NativeMethodDefinition<B, S>,
): NativeMethodPackage<B> {
  const { name } = definition;
  const loadBinding = nativeAddonLoader<B>(definition);
  const check = (options: unknown): CheckedOptions<S> => checkNativeOptions(name, definition.options, options, definition.optionErrorCodes);
  const liveProbe = nativeProber(loadBinding, definition.probe, definition.probeKey);

  const probeChecked = (options: CheckedOptions<S>): AioProbeResult => {
    const answer = liveProbe(options);
    if (!answer.available || definition.describeProbe === undefined) return answer;
    return definition.describeProbe(answer, (loadBinding() as { binding: B }).binding, options);
  };

  const create = (options: CheckedOptions<S>, host: AioMethodHost, context: AioMethodContext): AioMethod => {
    const loaded = loadBinding();
    if ('reason' in loaded) throw unavailableMethod(name, loaded.reason);
    const answer = probeChecked(options);
    if (!answer.available) throw unavailableMethod(name, answer.reason);
    const spec = completeSpec(name, definition.context(loaded.binding, options, context));
    try {
      return definition.construct?.(loaded.binding, spec, host, context) ?? new NativeMethod(loaded.binding, spec, host, context);
    } catch (error) {
      // The context's resources are made here: EMFILE or ENOMEM can still come after a good probe.
      throw asUnavailable(name, error);
    }
  };

  return {
    name,
    loadBinding,
    requireBinding() {
      const loaded = loadBinding();
      if ('reason' in loaded) throw unavailableMethod(name, loaded.reason);
      return loaded.binding;
    },
    probe(options) {
      let checked: CheckedOptions<S>;
      try {
        checked = check(options);
      } catch (error) {
        return { available: false, reason: (error as Error).message, code: 'invalid-options' };
      }
      return probeChecked(checked);
    },
    factory(options) {
      const checked = check(options);
      return {
        name,
        probe: () => probeChecked(checked),
        create: (host, context) => create(checked, host, context),
      };
    },
  };
}

function completeSpec(name: AioMethodName, part: NativeContextSpec): NativeMethodSpec {
  const spec: NativeMethodSpec = { name, ...part, waitOnFileBeforeClose: part.waitOnFileBeforeClose ?? true };
  if (spec.needsSynchronousExecution !== undefined || !spec.capabilities.completesOnOtherThread) return spec;
  // Memory only the issuing thread may touch never goes to another thread.
  return { ...spec, needsSynchronousExecution: (handle) => (handle.flags & AIO_FLAG_REFERENCES_LOCAL) !== 0 };
}

/** An addon's AIO_ERR_METHOD_UNAVAILABLE from `create` gets the method's name and sentence. */
function asUnavailable(name: AioMethodName, error: unknown): unknown {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'AIO_ERR_METHOD_UNAVAILABLE' || typeof message !== 'string') return error;
  if (error instanceof AioUsageError && message.startsWith(`the ${name} method is not available here`)) return error;
  return unavailableMethod(name, message);
}

/* ------------------------------------------------------------------ shared pieces */

/**
 * What a backend says about its capabilities.  The ops default to the six
 * data ops; a backend lists the file operations (`stat`, `truncate`,
 * `allocate`) only when its addon runs them, and the core runs the others
 * synchronously (see NativeMethod.needsSynchronousExecution).
 */
export interface NativeCapabilities extends Omit<AioMethodCapabilities, 'ops' | 'direct'> {
  readonly ops?: readonly AioOpName[];
  /**
   * Default: true for HANDLE methods (FILE_FLAG_NO_BUFFERING); for fd
   * methods, whether node:fs knows O_DIRECT here (the core opens their files).
   */
  readonly direct?: boolean;
}

const ALL_OPS: readonly AioOpName[] = Object.freeze(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync'] as const);

/** Frozen capabilities with the defaults filled in. */
export function nativeCapabilities(capabilities: NativeCapabilities): AioMethodCapabilities {
  return Object.freeze({
    ...capabilities,
    ops: capabilities.ops === undefined ? ALL_OPS : Object.freeze([...capabilities.ops]),
    direct: capabilities.direct ?? (capabilities.fileKind === 'win32-handle' || fs.constants.O_DIRECT !== undefined),
  });
}

/** The buffers of an IO as one list (a read or write has one, readv/writev several). */
export function ioViews(handle: AioIoView): readonly ArrayBufferView[] {
  return handle.buffer !== null ? [handle.buffer] : (handle.buffers ?? []);
}

/** The addon functions of a method whose files are Windows HANDLEs it opens itself. */
export interface NativeHandleFiles {
  /** CreateFileW; a HANDLE (owned by the context until closeFile) as a number, or a negative errno. */
  openFile(context: AioNativeContext, path: string, flags: Required<AioOpenFlags>): number;
  /** CloseHandle of a HANDLE the context opened; 0 or a negative errno. */
  closeFile(context: AioNativeContext, handle: number): number;
}

/**
 * The file hooks of a HANDLE method (iocp, threadpool on Windows): opens
 * with the path form node:fs uses on Windows (absolute, in the `\\?\`
 * namespace, so long paths work) and turns a negative errno into the
 * AioIoError node:fs would give.
 */
export function nativeHandleFiles(method: AioMethodName, files: NativeHandleFiles): Pick<NativeMethodSpec, 'openFile' | 'closeFile'> {
  return {
    openFile(context, filePath, flags) {
      const handle = files.openFile(context, path.toNamespacedPath(path.resolve(filePath)), flags);
      if (handle < 0) throw nativeFileError(method, handle, 'open', filePath, `file ${JSON.stringify(filePath)}`);
      return handle;
    },
    closeFile(context, file: AioFile) {
      const rc = files.closeFile(context, file.fd);
      if (rc < 0) throw nativeFileError(method, rc, 'close', file.path, file.describe());
    },
  };
}

/** The AioIoError for a negative errno from a file call of the addon (`what`: `file "/x"`). */
export function nativeFileError(method: AioMethodName, errno: number, syscall: string, filePath: string | undefined, what: string): AioIoError {
  let code: string;
  try {
    code = getSystemErrorName(errno);
  } catch {
    code = 'EIO';
  }
  return new AioIoError({ code, errno, syscall, path: filePath, target: `${syscall} of ${what}`, method, detail: `could not ${syscall} ${what}` });
}
