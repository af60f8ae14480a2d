/**
 * @aio/iocp: the `iocp` IO method, Windows overlapped I/O with one I/O
 * completion port per context.  Files are opened by the method itself with
 * CreateFileW (FILE_FLAG_OVERLAPPED, plus FILE_FLAG_NO_BUFFERING for direct
 * and FILE_FLAG_WRITE_THROUGH for dsync) and associated with the context's
 * port; reads and writes are overlapped ReadFile/WriteFile at 64-bit
 * offsets; a reaper thread takes completions in batches with
 * GetQueuedCompletionStatusEx and wakes the event loop once per batch.
 * See README.md for the design.
 */
import * as path from 'node:path';
import { getSystemErrorName } from 'node:util';
import {
  AioIoError,
  AioUsageError,
  type AioFile,
  type AioHandle,
  type AioMethod,
  type AioMethodCapabilities,
  type AioMethodContext,
  type AioMethodFactory,
  type AioMethodHost,
  type AioOpenFlags,
  type AioProbeResult,
} from '@aio/core';
import { NativeMethod, loadNativeBinding, unavailableMethod, type AioNativeBinding, type AioNativeContext, type NativeMethodSpec } from '@aio/core/method';

/** The method's name, as in `AIO_METHOD=iocp`. */
export const methodName = 'iocp';

/** Options of {@link iocp}. */
export interface IocpOptions {
  /**
   * Put the files a context opens in FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
   * mode (default true): a transfer the OS finishes at once (a cached
   * read) is completed by the submitter instead of making a round trip
   * through the port and the reaper thread.
   */
  skipCompletionPortOnSuccess?: boolean;
}

/** The addon's functions: the core's contract plus files and synchronous execution. */
export interface IocpBinding extends AioNativeBinding {
  openFile(context: AioNativeContext, path: string, flags: Required<AioOpenFlags>): number;
  closeFile(context: AioNativeContext, handle: number): number;
  executeSync(context: AioNativeContext, op: number, handle: number, offset: number, length: number, views: readonly ArrayBufferView[]): number;
  /** Test hook: the errno values the addon uses, by name. */
  errnoTable(): Record<string, number>;
  /** Test hook: Node's errno for a Win32 error code after a failed open, transfer or flush. */
  mapWin32Error(code: number, call: 'open' | 'transfer' | 'flush'): number;
}

const ADDON_NAME = 'aio_iocp';
let loaded: { binding: IocpBinding } | { reason: string } | undefined;

/** Why the method cannot run on this platform, or undefined on Windows. */
function wrongPlatform(): AioProbeResult | undefined {
  if (process.platform === 'win32') return undefined;
  return { available: false, reason: `wrong platform: iocp needs Windows (this is ${process.platform})`, code: 'wrong-platform' };
}

/** The addon, loaded once (on Windows only: elsewhere it is never built). */
export function loadBinding(): { binding: IocpBinding } | { reason: string } {
  const platform = wrongPlatform();
  if (platform !== undefined) return { reason: platform.reason };
  loaded ??= loadNativeBinding<IocpBinding>(import.meta.url, ADDON_NAME);
  return loaded;
}

function checkIocpOptions(options: unknown): IocpOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', `iocp options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const record = options as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'skipCompletionPortOnSuccess') {
      throw new AioUsageError('AIO_ERR_INVALID_OPTION', `unknown iocp option ${JSON.stringify(key)} (known: skipCompletionPortOnSuccess)`);
    }
  }
  const skip = record.skipCompletionPortOnSuccess;
  if (skip !== undefined && typeof skip !== 'boolean') {
    throw new AioUsageError('AIO_ERR_INVALID_OPTION', `options.skipCompletionPortOnSuccess must be a boolean, got ${typeof skip}`);
  }
  return skip === undefined ? {} : { skipCompletionPortOnSuccess: skip };
}

function capabilities(maxConcurrency: number): AioMethodCapabilities {
  return Object.freeze({
    ops: Object.freeze(['read', 'readv', 'write', 'writev', 'fsync', 'fdatasync'] as const),
    direct: true, // FILE_FLAG_NO_BUFFERING
    // readv/writev are one overlapped transfer per buffer, completed together; not one vectored call.
    vectored: false,
    maxDepth: maxConcurrency,
    // The kernel moves the data; the reaper thread only hands results over.
    completesOnOtherThread: false,
    fileKind: 'win32-handle',
  });
}

/** Node's name for a negative errno, or EIO for one it does not know. */
function errorName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return 'EIO';
  }
}

function openFailure(errno: number, filePath: string): AioIoError {
  return new AioIoError({
    code: errorName(errno),
    errno,
    syscall: 'open',
    path: filePath,
    target: `open of file ${JSON.stringify(filePath)}`,
    method: methodName,
    detail: `could not open file ${JSON.stringify(filePath)}`,
  });
}

/**
 * The spec NativeMethod runs the addon with: files opened, closed and
 * executed synchronously by the addon, since node:fs cannot use them.
 */
function methodSpec(binding: IocpBinding, maxConcurrency: number, options: IocpOptions): NativeMethodSpec {
  return {
    name: methodName,
    capabilities: capabilities(maxConcurrency),
    // A HANDLE closed with IO in flight cancels that IO, and its number can be reused by the next open.
    waitOnFileBeforeClose: true,
    options: { skipCompletionPortOnSuccess: options.skipCompletionPortOnSuccess ?? true },
    openFile(context, filePath, flags) {
      // The same path form node:fs uses on Windows: absolute, in the \\?\ namespace (long paths work).
      const handle = binding.openFile(context, path.toNamespacedPath(path.resolve(filePath)), flags);
      if (handle < 0) throw openFailure(handle, filePath);
      return handle;
    },
    closeFile(context, file: AioFile) {
      const rc = binding.closeFile(context, file.fd);
      if (rc < 0) {
        throw new AioIoError({
          code: errorName(rc),
          errno: rc,
          syscall: 'close',
          path: file.path,
          target: `close of ${file.describe()}`,
          method: methodName,
          detail: `could not close ${file.describe()}`,
        });
      }
    },
    executeSynchronously(context, handle: AioHandle) {
      const views = handle.buffer !== null ? [handle.buffer] : (handle.buffers ?? []);
      return binding.executeSync(context, handle.op, (handle.file as AioFile).fd, handle.offset, handle.length, views);
    },
  };
}

/** The live probe: Windows, the addon loads, and a block round-trips through a completion port.  Never throws. */
export function probe(options?: IocpOptions): AioProbeResult {
  const platform = wrongPlatform();
  if (platform !== undefined) return platform;
  try {
    checkIocpOptions(options);
  } catch (error) {
    return { available: false, reason: (error as Error).message, code: 'invalid-option' };
  }
  const addon = loadBinding();
  if (!('binding' in addon)) return { available: false, reason: addon.reason, code: 'not-installed' };
  try {
    return addon.binding.probe();
  } catch (error) {
    return { available: false, reason: `probe failed: ${(error as Error).message}`, code: 'EIO' };
  }
}

/**
 * The iocp method's factory.  Throws AioUsageError ('AIO_ERR_INVALID_OPTION')
 * for bad options at once; `create()` throws AIO_ERR_METHOD_UNAVAILABLE
 * off Windows or when the addon is missing.
 */
export function iocp(options?: IocpOptions): AioMethodFactory {
  const opts = checkIocpOptions(options);
  return {
    name: methodName,
    probe: () => probe(opts),
    create(host: AioMethodHost, context: AioMethodContext): AioMethod {
      const addon = loadBinding();
      if (!('binding' in addon)) throw unavailableMethod(methodName, addon.reason);
      return new NativeMethod(addon.binding, methodSpec(addon.binding, context.maxConcurrency, opts), host, context);
    },
  };
}

/** Alias of {@link iocp}: every backend package exports `method`. */
export const method = iocp;
