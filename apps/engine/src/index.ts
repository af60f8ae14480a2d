/** @aio/engine: a crash-safe key-value store over 8 KiB pages on aio.  See README.md for the design. */
export { Engine, EngineFailedError, ScanEntry } from './engine.js';
export type { EngineOptions, EngineStats, CheckpointInfo } from './engine.js';
export { BufferPool, TornPageError, PoolExhaustedError } from './buffer-pool.js';
export type { CheckReport } from './check.js';
export type { TxOp } from './btree.js';
