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
import type { AioFile, AioMethodFactory, AioOpenFlags, AioProbeResult } from '@aio/core';
import { defineNativeMethod, ioViews, nativeCapabilities, nativeHandleFiles, nativeOption } from '@aio/core/method';
import type { AioNativeBinding, AioNativeContext, NativeBindingLoad } from '@aio/core/method';

/** The method's name, as in `AIO_METHOD=iocp`. */
export const methodName = 'iocp' as const;

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
  /** One IO on the calling thread (stat, truncate and allocate only ever run here); `flags` (AIO_FLAG_*) matters to allocate only. */
  executeSync(
    context: AioNativeContext,
    op: number,
    handle: number,
    offset: number,
    length: number,
    views: readonly ArrayBufferView[],
    flags?: number,
  ): number;
  /** Test hook: the errno values the addon uses, by name. */
  errnoTable(): Record<string, number>;
  /** Test hook: Node's errno for a Win32 error code after a failed open, transfer or flush. */
  mapWin32Error(code: number, call: 'open' | 'transfer' | 'flush'): number;
}

const OPTIONS = {
  skipCompletionPortOnSuccess: nativeOption.boolean(),
};

const port = defineNativeMethod<IocpBinding, typeof OPTIONS>({
  name: methodName,
  packageUrl: import.meta.url,
  addon: 'aio_iocp',
  // Elsewhere the addon is never built.
  platform: { only: 'win32', reason: (platform) => `iocp needs Windows (this is ${platform})` },
  options: OPTIONS,
  // A block round-trips through a completion port.
  probe: (binding) => binding.probe(),
  context: (binding, options, context) => ({
    capabilities: nativeCapabilities({
      // The six data ops (the default).  A completion port has no stat, truncate or allocate:
      // the core runs those through executeSynchronously below, never node:fs (a HANDLE is not an fd).
      // readv/writev are one overlapped transfer per buffer, completed together; not one vectored call.
      vectored: false,
      maxDepth: context.maxConcurrency,
      // The kernel moves the data; the reaper thread only hands results over.
      completesOnOtherThread: false,
      fileKind: 'win32-handle',
    }),
    // A HANDLE closed with IO in flight cancels that IO, and its number can be reused by the next open.
    waitOnFileBeforeClose: true,
    options: { skipCompletionPortOnSuccess: options.skipCompletionPortOnSuccess ?? true },
    // Files are opened, closed and run synchronously by the addon: node:fs cannot use HANDLEs.
    ...nativeHandleFiles(methodName, binding),
    executeSynchronously: (native, handle) =>
      binding.executeSync(native, handle.op, (handle.file as AioFile).fd, handle.offset, handle.length, ioViews(handle), handle.flags),
  }),
});

/** The addon, loaded once (on Windows only: elsewhere it is never built). */
export function loadBinding(): NativeBindingLoad<IocpBinding> {
  return port.loadBinding();
}

/** The live probe: Windows, the addon loads, and a block round-trips through a completion port.  Never throws. */
export function probe(options?: IocpOptions): AioProbeResult {
  return port.probe(options);
}

/**
 * The iocp method's factory.  Throws AioUsageError ('AIO_ERR_INVALID_OPTION')
 * for bad options at once; `create()` throws AIO_ERR_METHOD_UNAVAILABLE
 * off Windows or when the addon is missing.
 */
export function iocp(options?: IocpOptions): AioMethodFactory {
  return port.factory(options);
}

/** Alias of {@link iocp}: every backend package exports `method`. */
export const method = iocp;
