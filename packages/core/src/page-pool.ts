/**
 * A pool of aligned pages for direct I/O: one slab, many pages, no
 * allocation per get or put.
 *
 * The slab comes from {@link allocAligned}, so it lives inside the
 * JavaScript heap (WebAssembly memory, whose base V8 page-aligns) and works
 * where external buffers are refused.  Pages are carved at multiples of the
 * stride (the page size rounded up to the alignment), so every page starts
 * at an aligned address and can be used with O_DIRECT on every method.
 *
 * The pool hands out the page most recently returned first (a LIFO stack,
 * for cache warmth), never zeroes a page (a page holds whatever its last
 * user left in it), and never grows: `get()` returns null when every page
 * is lent, the way `aio.tryAcquire()` returns null when every handle is busy.
 */
import { allocAligned, markNonDetachable, AIO_MAX_ALIGNMENT } from './aligned.js';
import { AioUsageError } from './errors.js';
import { checkInteger, checkOptions, describeValue, detachedError, isDetached } from './validate.js';

export interface AlignedPagePoolOptions {
  /** The address alignment of every page (a power of two up to 4096; default 4096). */
  alignment?: number;
}

/** The largest slab a pool allocates (the most bytes one WebAssembly memory and one IO can span). */
const MAX_POOL_BYTES = 0x7fff_f000;

export class AlignedPagePool {
  /** Bytes per page. */
  readonly pageSize: number;
  /** Pages in the pool. */
  readonly count: number;
  /** The address alignment of every page. */
  readonly alignment: number;
  /** Distance in bytes between the starts of two neighbouring pages (pageSize rounded up to the alignment). */
  readonly stride: number;
  /** The whole slab; pages are views into it. */
  readonly slab: Buffer;
  readonly #pages: Buffer[];
  /** Free page indexes, as a stack. */
  readonly #free: Int32Array;
  #freeCount: number;
  /** 1 while a page is lent (between get and put). */
  readonly #lent: Uint8Array;

  constructor(pageSize: number, count: number, options?: AlignedPagePoolOptions) {
    checkInteger(pageSize, 'pageSize', 1, MAX_POOL_BYTES);
    checkInteger(count, 'count', 1, MAX_POOL_BYTES);
    const opts = checkOptions<AlignedPagePoolOptions>(options, 'options', ['alignment']);
    const alignment = opts.alignment ?? AIO_MAX_ALIGNMENT;
    checkInteger(alignment, 'options.alignment', 1, AIO_MAX_ALIGNMENT);
    const stride = Math.ceil(pageSize / alignment) * alignment;
    if (stride * count > MAX_POOL_BYTES) {
      throw new AioUsageError('AIO_ERR_OUT_OF_RANGE', `a pool of ${count} pages of ${pageSize} bytes needs ${stride * count} bytes; at most ${MAX_POOL_BYTES}`);
    }
    // allocAligned checks that the alignment is a power of two.
    this.slab = allocAligned(stride * count, alignment);
    this.pageSize = pageSize;
    this.count = count;
    this.alignment = alignment;
    this.stride = stride;
    this.#pages = new Array<Buffer>(count);
    this.#free = new Int32Array(count);
    this.#lent = new Uint8Array(count);
    // The stack pops from the end: push in reverse so page 0 is handed out first.
    for (let i = 0; i < count; i++) {
      this.#pages[i] = markNonDetachable(this.slab.subarray(i * stride, i * stride + pageSize));
      this.#free[i] = count - 1 - i;
    }
    this.#freeCount = count;
  }

  /** Pages free right now. */
  get available(): number {
    return this.#freeCount;
  }

  /** Pages lent right now. */
  get lent(): number {
    return this.count - this.#freeCount;
  }

  /** Lends a free page, or returns null if every page is lent.  The content is whatever the page last held. */
  get(): Buffer | null {
    if (this.#freeCount === 0) return null;
    const index = this.#free[--this.#freeCount];
    this.#lent[index] = 1;
    return this.#pages[index];
  }

  /**
   * Takes a lent page back.  Throws AIO_ERR_INVALID_TYPE for a view that is
   * not a page of this pool, and AIO_ERR_BUFFER_STATE for a page that is
   * not lent (given back twice).
   */
  put(page: ArrayBufferView): void {
    if (ArrayBuffer.isView(page) && isDetached(page)) throw detachedError('page');
    const index = this.indexOf(page);
    if (index < 0) {
      throw new AioUsageError('AIO_ERR_INVALID_TYPE', `put() needs a page of this pool (${this.pageSize}-byte pages), got ${describeValue(page)}`);
    }
    if (this.#lent[index] === 0) {
      throw new AioUsageError('AIO_ERR_BUFFER_STATE', `page ${index} of the pool is not lent: it was given back twice`);
    }
    this.#lent[index] = 0;
    this.#free[this.#freeCount++] = index;
  }

  /**
   * @internal For the read stream, which tracks its pages by index: lends a
   * free page and returns its index, or -1 if every page is lent.  Skips
   * what `get()` returns a view for, nothing else.
   */
  takeIndex(): number {
    if (this.#freeCount === 0) return -1;
    const index = this.#free[--this.#freeCount];
    this.#lent[index] = 1;
    return index;
  }

  /**
   * @internal Takes page `index` back, as `put(page(index))` would, without
   * finding the index from a view again (the caller got it from
   * `takeIndex()`).  A page not lent is still refused.
   */
  putIndex(index: number): void {
    if (this.#lent[index] !== 1) {
      throw new AioUsageError('AIO_ERR_BUFFER_STATE', `page ${index} of the pool is not lent: it was given back twice`);
    }
    this.#lent[index] = 0;
    this.#free[this.#freeCount++] = index;
  }

  /** @internal Page `index` without the range check of `page()`, for indexes from `takeIndex()`. */
  pageAt(index: number): Buffer {
    return this.#pages[index];
  }

  /** Whether page `index` is lent right now. */
  isLent(index: number): boolean {
    return this.#lent[index] === 1;
  }

  /**
   * The index of `view` if it is exactly one page of this pool (the same
   * memory, offset and length, whatever its type), else -1.
   */
  indexOf(view: unknown): number {
    if (!ArrayBuffer.isView(view) || view.buffer !== this.slab.buffer || view.byteLength !== this.pageSize) return -1;
    const offset = view.byteOffset - this.slab.byteOffset;
    if (offset < 0 || offset % this.stride !== 0) return -1;
    const index = offset / this.stride;
    return index < this.count ? index : -1;
  }

  /** Page `index` (lent or not): for callers that track pages by index. */
  page(index: number): Buffer {
    checkInteger(index, 'index', 0, this.count - 1);
    return this.#pages[index];
  }
}
