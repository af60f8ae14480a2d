/**
 * @aio/core: asynchronous and direct file I/O for Node.js with the semantics
 * of PostgreSQL 18's AIO subsystem.  See README.md for the design.
 */
export { Aio, AIO_SUBMIT_BATCH_SIZE, AIO_DEFAULT_MAX_CONCURRENCY, AIO_MAX_CONCURRENCY } from './aio.js';
export type { AioOptions, AioAcquireAsyncOptions } from './aio.js';
export type { AioCounters, AioHandleRow, AioStats } from './inspection.js';
export {
  AioHandle,
  AioWaitRef,
  AIO_HANDLE_STATES,
  AIO_MAX_HANDLE_DATA,
  AIO_FLAG_SYNCHRONOUS,
  AIO_FLAG_REFERENCES_LOCAL,
  AIO_FLAG_BUFFERED,
} from './handle.js';
export type { AioHandleState, AioHandleFlag } from './handle.js';
export { AioFile } from './file.js';
export type { AioOpenFlags, AioFileIoOptions, AioFileStat, AioAllocateOptions, AioAllocateOutcome, AioRenameOptions } from './file.js';
export { AioResult, AioReturn, AioTargetDescription } from './result.js';
export type { AioResultStatus, AioResultCode } from './result.js';
export { defineAioCallbacks, AIO_MAX_CALLBACKS_PER_HANDLE } from './callbacks.js';
export type { AioCallbacks, AioCallbackId } from './callbacks.js';
export { AioUsageError, AioIoError, AioAbortError, AIO_USAGE_ERROR_CODES } from './errors.js';
export type { AioUsageErrorCode } from './errors.js';
export { syncMethod } from './sync-method.js';
export { libuvMethod } from './libuv-method.js';
export { AIO_METHOD_NAMES, AIO_OP, AIO_OP_NAMES, AIO_FLAG_KEEP_SIZE, AIO_STAT_BYTES, AIO_STAT_FIELDS } from './method.js';
export type {
  AioMethod,
  AioMethodFactory,
  AioMethodHost,
  AioMethodName,
  AioMethodCapabilities,
  AioMethodContext,
  AioIoView,
  AioProbeResult,
  AioOpName,
  AioCancelOutcome,
  AioFallbackReason,
} from './method.js';
export { allocAligned, isKnownAligned, isNonDetachable, AIO_MAX_ALIGNMENT } from './aligned.js';
export { AlignedPagePool } from './page-pool.js';
export type { AlignedPagePoolOptions } from './page-pool.js';
export {
  ReadStream,
  readStream,
  blockRangeReadStream,
  READ_STREAM_DEFAULT_BLOCK_SIZE,
  READ_STREAM_DEFAULT_COMBINE_LIMIT,
  READ_STREAM_DEFAULT_MAX_IOS,
  READ_STREAM_MAX_COMBINE_BLOCKS,
} from './read-stream.js';
export type {
  ReadStreamOptions,
  ReadStreamItem,
  ReadStreamBlock,
  ReadStreamStats,
  ReadStreamDistanceCause,
  BlockRangeReadStreamOptions,
} from './read-stream.js';
export { writeBack, WRITE_BACK_DEFAULT_WINDOW, WRITE_BACK_DEFAULT_MAX_RETRIES } from './write-back.js';
export type { DirtyPage, WriteBackOptions, WriteBackResult } from './write-back.js';
export {
  WalWriter,
  WalReader,
  readWal,
  crc32c,
  walDefaultDurability,
  WAL_DURABILITY_MODES,
  WAL_DEFAULT_SEGMENT_SIZE,
  WAL_DEFAULT_BLOCK_SIZE,
  WAL_DEFAULT_MAX_FLUSHES,
  WAL_RECORD_HEADER_SIZE,
} from './wal.js';
export type { WalDurability, WalOptions, WalReadOptions, WalRecord, WalStopReason, WalState, WalStats } from './wal.js';
export { isAioReturn, isAioResult, isAioFile, isAioWaitRef, isAlignedPagePool, aioBrandOf, aioCoreCopies } from './copies.js';
export type { AioBrandName, AioCoreCopy } from './copies.js';
