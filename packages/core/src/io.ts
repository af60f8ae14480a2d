/**
 * What an IO method sees of one IO: its description, nothing else.
 *
 * Every handle owns one `AioIo` for its whole life (made once, so nothing is
 * allocated per IO).  The core fills it when `start*` defines the IO and
 * clears it when the handle is recycled; IO methods get it (typed as the
 * read-only {@link AioIoView}) instead of the handle, so the handle's
 * callbacks, return object, waiters and state stay the core's alone
 * (PostgreSQL's methods see `PgAioHandle`; here they see only the IO).
 */
import { AioUsageError } from './errors.js';
import type { AioFile } from './file.js';
import { AIO_OP_NAMES, type AioIoView, type AioOpCode, type AioOpName } from './method.js';
import { describeIoTarget } from './result.js';

export class AioIo implements AioIoView {
  /** The index of the IO's handle in its context. */
  readonly index: number;
  /** The handle's generation: which IO on that handle this is (starts at 1). */
  generation = 1;
  op: AioOpCode = 0;
  file: AioFile | null = null;
  offset = 0;
  /** Bytes the IO asks for (the sum of all buffers for vectored IO). */
  length = 0;
  /** The buffer of a read or write (possibly the context's bounce memory); null otherwise. */
  buffer: ArrayBufferView | null = null;
  /** The buffers of a readv or writev (a private array); null otherwise. */
  buffers: ArrayBufferView[] | null = null;
  /** OR of AIO_FLAG_* bits. */
  flags = 0;
  /** Free for the method's own per-IO bookkeeping; cleared when the handle is recycled. */
  methodData: unknown = null;

  constructor(index: number) {
    this.index = index;
  }

  get opName(): AioOpName {
    return AIO_OP_NAMES[this.op];
  }

  /** The target of the IO, e.g. `read of 4096 bytes at offset 0 in file "/x"`. */
  describeTarget(): string {
    return describeIoTarget(this.opName, this.file?.path ?? undefined, this.offset, this.length);
  }

  /** Opens the IO's file again by path with the same flags; returns a new fd the caller owns. */
  reopenTarget(): number {
    if (this.file === null) throw new AioUsageError('AIO_ERR_HANDLE_STATE', 'the handle has no IO defined');
    return this.file.reopen();
  }
}
