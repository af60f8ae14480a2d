/*
 * uring.cc: the io_uring method, one ring per Aio context.
 *
 * The life of an IO:
 *   1. binding.submit (JS thread): the kit decodes the IO into the handle's
 *      slot; we prepare an SQE pointing at the slot's iovecs.  A batch of two
 *      or more IOs (batch mode) goes to the kernel at once, with one
 *      io_uring_enter.  A single IO (outside batch mode) is only prepared:
 *      every IO started during one turn of the event loop is submitted
 *      together by the prepare handle, just before the loop blocks, or
 *      earlier by anything that must not wait (poll, wait, cancel, a drain).
 *   2. The kernel posts a CQE and signals the eventfd registered with the
 *      ring; libuv wakes the loop and on_eventfd() runs.
 *   3. deliver() reaps every ready CQE into the JS completion table and
 *      calls JavaScript once for all of them (napi_make_callback, so
 *      promise reactions run right after).  Then it submits what the
 *      JavaScript callbacks started.
 * binding.wait blocks in io_uring_submit_and_wait/io_uring_wait_cqe for
 * one IO and hands over whatever is ready; binding.poll never blocks.
 *
 * Invariants:
 * - every accepted IO produces exactly one table entry, delivered once;
 *   `inflight` counts those not yet handed to JavaScript;
 * - the completion table is written only when it is about to be handed to
 *   JavaScript (poll, wait, deliver), never while JavaScript may still be
 *   reading a previous batch; cancel() reaps into `stash` instead;
 * - the SQ ring holds exactly the entries listed in `pending`, in order.
 */
#include "uring.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <string>

namespace aio_uring {

namespace {

/* Marks our wrapper objects, so a foreign object passed as a context is refused. */
const napi_type_tag kContextTag = {0x6a1e3c5b9d0f4a27ULL, 0x8c2b7e19f4d3a605ULL};

/* user_data of SQEs that are not IOs.  IO user_data has a handle index < 1024 in the low half. */
const uint64_t kCancelTag = UINT64_MAX;
const uint64_t kCancelAllTag = UINT64_MAX - 1;
/* A `pending` entry for a non-IO SQE (a cancel request). */
const uint32_t kNotAnIo = UINT32_MAX;

/* The kernel moves at most this much in one read or write (MAX_RW_COUNT). */
const uint64_t kMaxRw = 0x7ffff000;
/* The most iovecs the kernel takes in one readv/writev (UIO_MAXIOV). */
const uint32_t kMaxIov = 1024;
/* fds above this are not cached per fd (the cache is a vector indexed by fd). */
const int kMaxCachedFd = 1 << 20;
const uint32_t kPeekBatch = 32;

// ---------------------------------------------------------------------------
// Small Node-API helpers.
// ---------------------------------------------------------------------------

napi_value Undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

napi_value Uint32(napi_env env, uint32_t n) {
  napi_value v;
  napi_create_uint32(env, n, &v);
  return v;
}

/* Throws a TypeError with a stable code; returns nullptr for convenience. */
std::nullptr_t ThrowType(napi_env env, const char *message) {
  napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", message);
  return nullptr;
}

std::nullptr_t ThrowRange(napi_env env, const char *message) {
  napi_throw_range_error(env, "AIO_ERR_OUT_OF_RANGE", message);
  return nullptr;
}

/* The arguments of a binding call; missing ones are undefined. */
template <size_t N>
bool Args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  return napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok;
}

/* The context behind a wrapper object, or nullptr after throwing. */
Context *Unwrap(napi_env env, napi_value value, bool must_be_open = true) {
  bool tagged = false;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object ||
      napi_check_object_type_tag(env, value, &kContextTag, &tagged) != napi_ok || !tagged) {
    return ThrowType(env, "expected an io_uring context created by this addon");
  }
  void *data = nullptr;
  if (napi_unwrap(env, value, &data) != napi_ok || data == nullptr) return ThrowType(env, "the io_uring context is gone");
  Context *ctx = static_cast<Context *>(data);
  if (must_be_open && ctx->state != State::kOpen) {
    napi_throw_error(env, "AIO_ERR_CLOSED", "the io_uring context is closed");
    return nullptr;
  }
  return ctx;
}

/* An integer argument in [lo, hi], or false after throwing. */
bool GetUint32(napi_env env, napi_value value, uint32_t lo, uint32_t hi, const char *what, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) return ThrowType(env, what), false;
  if (!(d >= lo && d <= hi) || d != std::floor(d)) return ThrowRange(env, what), false;
  *out = static_cast<uint32_t>(d);
  return true;
}

/* An optional numeric option; absent (undefined) leaves *out alone. */
bool OptionU32(napi_env env, napi_value options, const char *name, uint32_t lo, uint32_t hi, uint32_t *out) {
  napi_value value;
  napi_valuetype type;
  if (napi_get_named_property(env, options, name, &value) != napi_ok || napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_undefined) return true;
  std::string what = std::string("options.") + name + " must be an integer in range";
  return GetUint32(env, value, lo, hi, what.c_str(), out);
}

bool OptionBool(napi_env env, napi_value options, const char *name, bool *out) {
  napi_value value;
  napi_valuetype type;
  if (napi_get_named_property(env, options, name, &value) != napi_ok || napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_undefined) return true;
  if (type != napi_boolean) return ThrowType(env, "boolean option expected"), false;
  return napi_get_value_bool(env, value, out) == napi_ok;
}

bool OptionPolicy(napi_env env, napi_value options, AsyncPolicy *out) {
  napi_value value;
  napi_valuetype type;
  if (napi_get_named_property(env, options, "iosqeAsync", &value) != napi_ok || napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_undefined) return true;
  char text[16] = {0};
  size_t length = 0;
  if (type != napi_string || napi_get_value_string_utf8(env, value, text, sizeof text, &length) != napi_ok) {
    return ThrowType(env, "options.iosqeAsync must be 'auto', 'never' or 'always'"), false;
  }
  std::string policy(text, length);
  if (policy == "auto") *out = AsyncPolicy::kAuto;
  else if (policy == "never") *out = AsyncPolicy::kNever;
  else if (policy == "always") *out = AsyncPolicy::kAlways;
  else return ThrowType(env, "options.iosqeAsync must be 'auto', 'never' or 'always'"), false;
  return true;
}

bool DecodeOptions(napi_env env, napi_value options, Options *opt) {
  napi_valuetype type;
  if (napi_typeof(env, options, &type) != napi_ok || type != napi_object) return ThrowType(env, "options must be an object"), false;
  return OptionU32(env, options, "maxConcurrency", 1, 1024, &opt->max_concurrency) &&
         OptionU32(env, options, "entries", 0, 32768, &opt->entries) &&
         OptionBool(env, options, "sqpoll", &opt->sqpoll) &&
         OptionU32(env, options, "sqpollIdleMs", 1, 3600000, &opt->sqpoll_idle_ms) &&
         OptionPolicy(env, options, &opt->async_policy) &&
         OptionU32(env, options, "asyncMinBytes", 0, UINT32_MAX, &opt->async_min_bytes) &&
         OptionU32(env, options, "registeredFiles", 0, 32768, &opt->registered_files) &&
         OptionU32(env, options, "disabledOps", 0, 0x7f, &opt->disabled_ops);
}

/*
 * The registered buffers: options.registeredBuffers, an array of Uint8Array
 * (the JS side turns every view into one).  Fills `ranges` sorted by base.
 */
bool DecodeRegisteredBuffers(napi_env env, napi_value options, napi_value *array, std::vector<BufferRange> *ranges) {
  napi_valuetype type;
  if (napi_get_named_property(env, options, "registeredBuffers", array) != napi_ok || napi_typeof(env, *array, &type) != napi_ok) return false;
  if (type == napi_undefined) return true;
  bool is_array = false;
  uint32_t count = 0;
  if (napi_is_array(env, *array, &is_array) != napi_ok || !is_array || napi_get_array_length(env, *array, &count) != napi_ok || count > 16384) {
    return ThrowType(env, "options.registeredBuffers must be an array of at most 16384 Uint8Arrays"), false;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value view;
    if (napi_get_element(env, *array, i, &view) != napi_ok) return false;
    void *data = aio_typed_array_data(env, view, napi_uint8_array, 1, "options.registeredBuffers must hold non-empty Uint8Arrays");
    if (data == nullptr) return false;
    size_t length = 0;
    napi_get_typedarray_info(env, view, nullptr, &length, nullptr, nullptr, nullptr);
    ranges->push_back({reinterpret_cast<uintptr_t>(data), reinterpret_cast<uintptr_t>(data) + length, i});
  }
  std::sort(ranges->begin(), ranges->end(), [](const BufferRange &a, const BufferRange &b) { return a.base < b.base; });
  return true;
}

// ---------------------------------------------------------------------------
// Liveness: the poll handle and the context object are held only while IO
// is in flight.
// ---------------------------------------------------------------------------

/*
 * Makes the event loop and the garbage collector see what is in flight:
 * while `inflight` > 0 the eventfd's poll handle keeps the loop alive and
 * the context object (and through it the method, the core and every buffer
 * the core pins) is strongly referenced.  Called at the end of every entry
 * point that changes `inflight`.
 */
void UpdateLiveness(Context *ctx) {
  bool want = ctx->inflight > 0 && ctx->state == State::kOpen;
  if (want == ctx->poll_referenced) return;
  ctx->poll_referenced = want;
  uint32_t count;
  if (want) {
    if (ctx->poll_init) uv_ref(reinterpret_cast<uv_handle_t *>(&ctx->poll));
    napi_reference_ref(ctx->env, ctx->self, &count);
  } else {
    if (ctx->poll_init) uv_unref(reinterpret_cast<uv_handle_t *>(&ctx->poll));
    napi_reference_unref(ctx->env, ctx->self, &count);
  }
}

// ---------------------------------------------------------------------------
// Per-fd facts: the registered-file slot.
// ---------------------------------------------------------------------------

FdInfo *InfoFor(Context *ctx, int fd) {
  if (fd < 0 || fd >= kMaxCachedFd) return nullptr;
  if (static_cast<size_t>(fd) >= ctx->fds.size()) ctx->fds.resize(static_cast<size_t>(fd) + 1);
  return &ctx->fds[static_cast<size_t>(fd)];
}

/* The registered-file index for fd, registering it on first use; -1 to use the plain fd. */
int FixedFileFor(Context *ctx, int fd) {
  if (ctx->opt.registered_files == 0 || ctx->register_files_errno != 0) return -1;
  FdInfo *info = InfoFor(ctx, fd);
  if (info == nullptr || info->no_fixed) return -1;
  if (info->fixed >= 0) return info->fixed;
  if (ctx->free_file_slots.empty()) return -1;
  int32_t slot = ctx->free_file_slots.back();
  int ret = io_uring_register_files_update(&ctx->ring, static_cast<unsigned>(slot), &fd, 1);
  if (ret != 1) {
    info->no_fixed = true; /* e.g. EBADF: the IO itself will report it */
    return -1;
  }
  ctx->free_file_slots.pop_back();
  info->fixed = slot;
  return slot;
}

/* The registered buffer that holds [base, base + length), or -1. */
int FixedBufferFor(const Context *ctx, const void *base, uint64_t length) {
  if (ctx->ranges.empty() || !ctx->fixed_rw_ok || ctx->register_buffers_errno != 0) return -1;
  uintptr_t start = reinterpret_cast<uintptr_t>(base);
  auto after = std::upper_bound(ctx->ranges.begin(), ctx->ranges.end(), start,
                                [](uintptr_t value, const BufferRange &range) { return value < range.base; });
  if (after == ctx->ranges.begin()) return -1;
  const BufferRange &range = *(after - 1);
  if (start + length > range.end) return -1;
  return static_cast<int>(range.index);
}

// ---------------------------------------------------------------------------
// Ring setup.
// ---------------------------------------------------------------------------

/* Records which of our ops the kernel supports (io_uring_get_probe_ring needs 5.6; older kernels have the 5.1 set). */
void ProbeOpcodes(Context *ctx) {
  struct io_uring_probe *probe = io_uring_get_probe_ring(&ctx->ring);
  auto has = [probe](int opcode) { return probe == nullptr ? opcode <= IORING_OP_WRITE_FIXED : io_uring_opcode_supported(probe, opcode) != 0; };
  ctx->use_read_op = probe != nullptr && has(IORING_OP_READ) && has(IORING_OP_WRITE);
  ctx->fixed_rw_ok = has(IORING_OP_READ_FIXED) && has(IORING_OP_WRITE_FIXED);
  ctx->cancel_ok = probe != nullptr && has(IORING_OP_ASYNC_CANCEL);
  bool ok[7] = {false, has(IORING_OP_READV), has(IORING_OP_READV), has(IORING_OP_WRITEV), has(IORING_OP_WRITEV),
                has(IORING_OP_FSYNC), has(IORING_OP_FSYNC)};
  for (int op = 1; op <= 6; op++) ctx->op_ok[op] = ok[op] && (ctx->opt.disabled_ops & (1u << op)) == 0;
  if (probe != nullptr) io_uring_free_probe(probe);
}

/*
 * Creates the ring.  No setup flags but SQPOLL when asked, as PostgreSQL
 * does: COOP_TASKRUN, SINGLE_ISSUER and DEFER_TASKRUN measured no better
 * here (README "Measurements").
 */
int InitRing(Context *ctx) {
  uint32_t entries = ctx->opt.entries != 0 ? ctx->opt.entries : std::max<uint32_t>(ctx->opt.max_concurrency, 8);
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  params.flags = ctx->opt.sqpoll ? IORING_SETUP_SQPOLL : 0;
  params.sq_thread_idle = ctx->opt.sqpoll_idle_ms;
  int ret = io_uring_queue_init_params(entries, &ctx->ring, &params);
  if (ret == 0) ctx->setup_flags_used = params.flags;
  return ret;
}

/*
 * Registers the caller's buffers.  The kernel pins their pages for the
 * ring's lifetime; `registered` (a strong reference) keeps V8 from freeing
 * them for as long.  A failure (RLIMIT_MEMLOCK for unprivileged users) is
 * recorded and the IOs simply do not use fixed buffers.
 */
void RegisterBuffers(Context *ctx) {
  if (ctx->ranges.empty()) return;
  std::vector<struct iovec> iov(ctx->ranges.size());
  for (const BufferRange &range : ctx->ranges) {
    iov[range.index].iov_base = reinterpret_cast<void *>(range.base);
    iov[range.index].iov_len = range.end - range.base;
  }
  int ret = io_uring_register_buffers(&ctx->ring, iov.data(), static_cast<unsigned>(iov.size()));
  if (ret < 0) ctx->register_buffers_errno = -ret;
}

/* A sparse registered-file table (every slot -1); files are added on first use. */
void RegisterFiles(Context *ctx) {
  uint32_t size = ctx->opt.registered_files;
  if (size == 0) return;
  std::vector<int> files(size, -1);
  int ret = io_uring_register_files(&ctx->ring, files.data(), size);
  if (ret < 0) {
    ctx->register_files_errno = -ret;
    return;
  }
  for (uint32_t i = size; i > 0; i--) ctx->free_file_slots.push_back(static_cast<int32_t>(i - 1));
}

void OnEventfd(uv_poll_t *handle, int status, int events);
void OnHandleClosed(uv_handle_t *handle);

/* The eventfd the kernel signals on every CQE, watched by libuv.  Unreferenced until IO is in flight. */
int WatchCompletions(Context *ctx) {
  ctx->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ctx->eventfd < 0) return -errno;
  int ret = io_uring_register_eventfd(&ctx->ring, ctx->eventfd);
  if (ret == 0) ret = uv_poll_init(ctx->loop, &ctx->poll, ctx->eventfd);
  if (ret != 0) {
    close(ctx->eventfd);
    ctx->eventfd = -1;
    return ret;
  }
  ctx->poll.data = ctx;
  ctx->poll_init = true;
  ctx->open_handles++;
  ctx->holders++;
  uv_poll_start(&ctx->poll, UV_READABLE, OnEventfd);
  if (!ctx->poll_referenced) uv_unref(reinterpret_cast<uv_handle_t *>(&ctx->poll));
  return 0;
}

/* Sets the ring up (in create; submit retries if it ever failed).  Returns 0, or -errno (kept in setup_errno). */
int EnsureRing(Context *ctx) {
  if (ctx->ring_ready) return 0;
  int ret = InitRing(ctx);
  if (ret == 0) {
    ret = WatchCompletions(ctx);
    if (ret != 0) io_uring_queue_exit(&ctx->ring);
  }
  if (ret != 0) {
    ctx->setup_errno = -ret;
    return ret;
  }
  ctx->ring_ready = true;
  ctx->setup_errno = 0;
  ProbeOpcodes(ctx);
  RegisterBuffers(ctx);
  RegisterFiles(ctx);
  return 0;
}

// ---------------------------------------------------------------------------
// Preparing SQEs.
// ---------------------------------------------------------------------------

uint64_t UserData(uint32_t index, uint32_t generation) { return (static_cast<uint64_t>(generation) << 32) | index; }

/*
 * The IOSQE_ASYNC policy (README "The IOSQE_ASYNC policy"): with more than 4
 * IOs in flight, PostgreSQL 18's rule (the handle flagged `buffered`), plus
 * writes to files not opened for direct I/O.  The kernel then works on its
 * io-wq workers instead of inline in io_uring_enter.  Unflagged reads stay
 * inline: measured here, punting a page-cache read costs more than it gains
 * unless the machine is oversubscribed.  A buffered write inline mostly
 * fails its non-blocking attempt and is punted anyway; punting it at once
 * skips that attempt (8 KiB random writes: 83k → 132k/s).
 */
bool WantsAsync(const Context *ctx, const aio_io *io) {
  if (ctx->opt.async_policy != AsyncPolicy::kAuto) return ctx->opt.async_policy == AsyncPolicy::kAlways;
  if (io->op == AIO_OP_FSYNC || io->op == AIO_OP_FDATASYNC) return false;
  bool page_cache_write = (io->op == AIO_OP_WRITE || io->op == AIO_OP_WRITEV) && (io->flags & AIO_IO_FILE_DIRECT) == 0;
  if ((io->flags & AIO_FLAG_BUFFERED) == 0 && !page_cache_write) return false;
  return ctx->inflight + 1 > 4 && io->length >= ctx->opt.async_min_bytes;
}

/* A read or write of one buffer: READ_FIXED/WRITE_FIXED inside a registered buffer, else READ/WRITE (or a 1-vector READV/WRITEV before 5.6). */
void PrepSingle(Context *ctx, struct io_uring_sqe *sqe, int fd, aio_io *io) {
  bool read = io->op == AIO_OP_READ;
  void *base = io->iov[0].base;
  unsigned length = static_cast<unsigned>(std::min<uint64_t>(io->iov[0].len, kMaxRw));
  int buffer = FixedBufferFor(ctx, base, length);
  if (buffer >= 0) {
    if (read) io_uring_prep_read_fixed(sqe, fd, base, length, io->offset, buffer);
    else io_uring_prep_write_fixed(sqe, fd, base, length, io->offset, buffer);
    ctx->counters.fixedBufferIos++;
  } else if (ctx->use_read_op) {
    if (read) io_uring_prep_read(sqe, fd, base, length, io->offset);
    else io_uring_prep_write(sqe, fd, base, length, io->offset);
  } else {
    const struct iovec *iov = reinterpret_cast<const struct iovec *>(io->iov);
    if (read) io_uring_prep_readv(sqe, fd, iov, 1, io->offset);
    else io_uring_prep_writev(sqe, fd, iov, 1, io->offset);
  }
}

void PrepIo(Context *ctx, struct io_uring_sqe *sqe, aio_io *io) {
  int fd = static_cast<int>(io->file);
  unsigned char flags = 0;
  int fixed = FixedFileFor(ctx, fd);
  if (fixed >= 0) {
    fd = fixed;
    flags |= IOSQE_FIXED_FILE;
    ctx->counters.fixedFileIos++;
  }
  const struct iovec *iov = reinterpret_cast<const struct iovec *>(io->iov);
  switch (io->op) {
    case AIO_OP_READ:
    case AIO_OP_WRITE: PrepSingle(ctx, sqe, fd, io); break;
    case AIO_OP_READV: io_uring_prep_readv(sqe, fd, iov, io->iovcnt, io->offset); break;
    case AIO_OP_WRITEV: io_uring_prep_writev(sqe, fd, iov, io->iovcnt, io->offset); break;
    case AIO_OP_FSYNC: io_uring_prep_fsync(sqe, fd, 0); break;
    default: io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC); break;
  }
  if (WantsAsync(ctx, io)) {
    flags |= IOSQE_ASYNC;
    ctx->counters.asyncFlagged++;
  }
  io_uring_sqe_set_flags(sqe, flags);
  io_uring_sqe_set_data64(sqe, UserData(static_cast<uint32_t>(io->index), io->generation));
}

// ---------------------------------------------------------------------------
// Submitting.
// ---------------------------------------------------------------------------

void OnPrepare(uv_prepare_t *handle);
void OnRetry(uv_timer_t *handle);

/* Asks the prepare handle to run before the loop next blocks: it flushes SQEs and delivers stashed completions. */
void SchedulePrepare(Context *ctx) {
  if (ctx->prepare_active || ctx->state != State::kOpen) return;
  ctx->prepare_active = true;
  uv_prepare_start(&ctx->prepare, OnPrepare);
}

/* The kernel took `n` SQEs from the front of the ring. */
void ConsumePending(Context *ctx, uint32_t n) {
  n = std::min<uint32_t>(n, static_cast<uint32_t>(ctx->pending.size()));
  for (uint32_t i = 0; i < n; i++) {
    if (ctx->pending[i] != kNotAnIo) ctx->slots[ctx->pending[i]].pending = false;
  }
  ctx->pending.erase(ctx->pending.begin(), ctx->pending.begin() + n);
}

void RunSynchronously(Context *ctx, uint32_t index);

/*
 * io_uring_enter failed with something other than EINTR/EAGAIN/EBUSY: the
 * ring cannot take submissions any more (it never happens on a healthy
 * ring).  IOs the kernel never took run synchronously here and complete
 * through the stash; IOs the kernel has still complete through the CQ; every
 * later IO goes to the core's synchronous fallback.
 */
void BreakRing(Context *ctx, int error) {
  ctx->ring_broken = true;
  ctx->broken_errno = error;
  for (uint32_t index : ctx->pending) {
    if (index != kNotAnIo) RunSynchronously(ctx, index);
  }
  ctx->pending.clear();
  SchedulePrepare(ctx);
}

/* EAGAIN/EBUSY from the kernel: try again in a millisecond (the loop is kept alive by the IO in flight). */
void ArmRetry(Context *ctx) {
  ctx->counters.submitRetries++;
  if (ctx->retry_active || ctx->state != State::kOpen) return;
  ctx->retry_active = true;
  uv_timer_start(&ctx->retry, OnRetry, 1, 0);
}

/* Submits every prepared SQE with one io_uring_enter.  Returns how many the kernel took, or -errno. */
int Flush(Context *ctx) {
  if (ctx->pending.empty() || !ctx->ring_ready || ctx->ring_broken) return 0;
  int ret;
  do {
    ret = io_uring_submit(&ctx->ring);
  } while (ret == -EINTR);
  if (ret >= 0) {
    ConsumePending(ctx, static_cast<uint32_t>(ret));
    ctx->counters.enters++;
    if (!ctx->pending.empty()) ArmRetry(ctx);
    return ret;
  }
  if (ret == -EAGAIN || ret == -EBUSY) ArmRetry(ctx);
  else BreakRing(ctx, -ret);
  return ret;
}

/* An SQE, flushing the ring once if it is full.  nullptr if the kernel will not take more right now. */
struct io_uring_sqe *GetSqe(Context *ctx) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ctx->ring);
  if (sqe == nullptr && Flush(ctx) > 0) sqe = io_uring_get_sqe(&ctx->ring);
  return sqe;
}

bool InRange(double value, double lo, double hi) { return value >= lo && value <= hi && value == std::floor(value); }

/*
 * Checks one IO description before the kit decodes it: every word must be
 * an integer in its range (so that no conversion is undefined), the handle
 * index must name a free slot, the views must exist.
 */
bool WordsValid(const Context *ctx, const double *w, uint32_t nviews) {
  /* A read or write names exactly one buffer: PrepSingle uses iov[0]. */
  bool single = w[0] == AIO_OP_READ || w[0] == AIO_OP_WRITE;
  return InRange(w[0], 0, 6) && (!single || w[8] == 1) && InRange(w[1], 0, ctx->opt.max_concurrency - 1) && InRange(w[2], 0, 4294967295.0) &&
         InRange(w[3], 0, 0x7fffffff) && InRange(w[4], 0, INT_MAX) && InRange(w[5], 0, 9007199254740992.0) &&
         InRange(w[6], 0, 9007199254740992.0) && InRange(w[7], 0, nviews) && InRange(w[8], 0, nviews - w[7]) &&
         !ctx->slots[static_cast<uint32_t>(w[1])].busy;
}

/* One IO of a submit call: returns its disposition (AIO_DISPOSITION_*). */
int SubmitOne(Context *ctx, napi_env env, napi_value views, uint32_t nviews, uint32_t i) {
  const double *w = ctx->words + static_cast<size_t>(i) * AIO_SUBMIT_STRIDE;
  if (!WordsValid(ctx, w, nviews)) return ctx->counters.invalid++, AIO_DISPOSITION_UNSUPPORTED;
  /* More vectors than the kernel takes: the fallback does what node:fs (libuv) does with them. */
  if (!ctx->op_ok[static_cast<int>(w[0])] || w[8] > kMaxIov) return ctx->counters.unsupported++, AIO_DISPOSITION_UNSUPPORTED;
  uint32_t index = static_cast<uint32_t>(w[1]);
  Slot &slot = ctx->slots[index];
  int rc = aio_decode_io(env, ctx->words, views, i, &slot.io);
  if (rc != 0) return ctx->counters.invalid++, rc == -ENOMEM ? AIO_DISPOSITION_EAGAIN : AIO_DISPOSITION_UNSUPPORTED;
  struct io_uring_sqe *sqe = GetSqe(ctx);
  if (sqe == nullptr) {
    aio_io_release(&slot.io);
    return ctx->counters.sqFull++, AIO_DISPOSITION_EAGAIN;
  }
  PrepIo(ctx, sqe, &slot.io);
  slot.busy = slot.pending = true;
  ctx->pending.push_back(index);
  ctx->busy++;
  ctx->inflight++;
  ctx->counters.ios++;
  return AIO_DISPOSITION_ACCEPTED;
}

// ---------------------------------------------------------------------------
// Reaping.
// ---------------------------------------------------------------------------

/* Records one finished IO in `dest` (triples) at *count and frees its slot. */
void FinishSlot(Context *ctx, uint32_t index, int32_t result, int32_t *dest, uint32_t *count) {
  Slot &slot = ctx->slots[index];
  int32_t *entry = dest + 3 * static_cast<size_t>(*count);
  entry[0] = static_cast<int32_t>(index);
  entry[1] = static_cast<int32_t>(slot.io.generation);
  entry[2] = result;
  (*count)++;
  aio_io_release(&slot.io);
  slot.busy = slot.pending = false;
  ctx->busy--;
}

/* Runs an IO the kernel never took on this thread and stashes its completion. */
void RunSynchronously(Context *ctx, uint32_t index) {
  int32_t result = aio_io_execute(&ctx->slots[index].io);
  FinishSlot(ctx, index, result, ctx->stash.data(), &ctx->stash_count);
}

void HandleCqe(Context *ctx, uint64_t data, int32_t result, int32_t *dest, uint32_t *count) {
  if (data == kCancelTag) {
    ctx->cancel_seen = true;
    ctx->cancel_result = result;
    return;
  }
  if (data == kCancelAllTag) return;
  uint32_t index = static_cast<uint32_t>(data);
  uint32_t generation = static_cast<uint32_t>(data >> 32);
  if (index >= ctx->slots.size() || !ctx->slots[index].busy || ctx->slots[index].io.generation != generation) {
    ctx->counters.strayCqes++;
    return;
  }
  ctx->counters.cqes++;
  FinishSlot(ctx, index, result, dest, count);
}

/*
 * Reaps every ready CQE into `dest` from position `count`; returns the new
 * count.  It never overflows: each accepted IO is reaped once, and `dest`
 * has room for every IO that can be in flight.
 */
uint32_t Drain(Context *ctx, int32_t *dest, uint32_t count) {
  if (!ctx->ring_ready) return count;
  struct io_uring_cqe *cqes[kPeekBatch];
  unsigned n;
  while ((n = io_uring_peek_batch_cqe(&ctx->ring, cqes, kPeekBatch)) > 0) {
    /* Read each CQE before advancing: after the advance the kernel may reuse it. */
    for (unsigned k = 0; k < n; k++) HandleCqe(ctx, cqes[k]->user_data, cqes[k]->res, dest, &count);
    io_uring_cq_advance(&ctx->ring, n);
  }
  return count;
}

/* Everything ready for JavaScript, into the completion table: stashed completions first, then the CQ. */
uint32_t Collect(Context *ctx) {
  uint32_t count = ctx->stash_count;
  if (count > 0) memcpy(ctx->table, ctx->stash.data(), sizeof(int32_t) * 3 * count);
  ctx->stash_count = 0;
  return Drain(ctx, ctx->table, count);
}

// ---------------------------------------------------------------------------
// Delivering completions to JavaScript from the event loop.
// ---------------------------------------------------------------------------

/*
 * Calls the JS onComplete(count) through napi_make_callback, so promise
 * reactions and nextTicks run when it returns, as after any I/O callback.
 * A throw (a bug: the core never throws from there) becomes an uncaught
 * exception, as it would for any other callback.
 */
void CallOnComplete(Context *ctx, uint32_t count) {
  napi_env env = ctx->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, global, argv, result;
  if (napi_get_reference_value(env, ctx->on_complete, &fn) == napi_ok && fn != nullptr && napi_get_global(env, &global) == napi_ok) {
    napi_create_uint32(env, count, &argv);
    ctx->counters.deliveries++;
    if (napi_make_callback(env, ctx->async_context, global, fn, 1, &argv, &result) == napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

/*
 * Hands every ready completion to JavaScript in one call, then submits
 * what the callbacks started.  JavaScript may close the context inside the
 * call; the context's memory outlives it (it waits for the handles' close
 * callbacks), so only the state is checked afterwards.
 */
void Deliver(Context *ctx) {
  uint32_t count = Collect(ctx);
  if (count > 0) {
    ctx->inflight -= count;
    CallOnComplete(ctx, count);
  }
  if (ctx->state != State::kOpen) return;
  if (Flush(ctx) > 0) ctx->counters.deferredFlushes++;
  UpdateLiveness(ctx);
}

void OnEventfd(uv_poll_t *handle, int status, int events) {
  Context *ctx = static_cast<Context *>(handle->data);
  if (ctx->state != State::kOpen) return;
  uint64_t value;
  /* Reset the counter (level-triggered poll); EAGAIN just means a waiter already reaped. */
  if (read(ctx->eventfd, &value, sizeof value) < 0 && errno != EAGAIN) return;
  ctx->counters.wakeups++;
  Deliver(ctx);
}

void OnPrepare(uv_prepare_t *handle) {
  Context *ctx = static_cast<Context *>(handle->data);
  uv_prepare_stop(handle);
  ctx->prepare_active = false;
  if (ctx->state != State::kOpen) return;
  if (ctx->stash_count > 0) {
    Deliver(ctx);
  } else if (Flush(ctx) > 0) {
    ctx->counters.deferredFlushes++;
  }
}

void OnRetry(uv_timer_t *handle) {
  Context *ctx = static_cast<Context *>(handle->data);
  ctx->retry_active = false;
  if (ctx->state == State::kOpen) Flush(ctx);
}

// ---------------------------------------------------------------------------
// Blocking for a completion.
// ---------------------------------------------------------------------------

/* Sleeps a millisecond: used when the kernel refuses submissions and has nothing of ours to complete. */
void Nap() {
  struct timespec ts = {0, 1000000};
  nanosleep(&ts, nullptr);
}

/* Blocks until at least one CQE is ready, submitting what is prepared on the way.  Returns 0 or -errno. */
int Block(Context *ctx) {
  ctx->counters.blockingWaits++;
  if (!ctx->pending.empty() && !ctx->ring_broken) {
    int ret = io_uring_submit_and_wait(&ctx->ring, 1);
    if (ret >= 0) {
      ConsumePending(ctx, static_cast<uint32_t>(ret));
      ctx->counters.enters++;
      return 0;
    }
    if (ret != -EAGAIN && ret != -EBUSY && ret != -EINTR) return BreakRing(ctx, -ret), 0;
    if (ret != -EINTR && ctx->busy == ctx->pending.size()) return Nap(), ret; /* nothing of ours in the kernel */
  }
  struct io_uring_cqe *cqe;
  return io_uring_wait_cqe(&ctx->ring, &cqe); /* leaves the CQE for Drain */
}

/* Collects completions until IO (index, generation) is among them; returns how many are in the table. */
uint32_t WaitFor(Context *ctx, uint32_t index, uint32_t generation) {
  uint32_t count = Collect(ctx);
  for (;;) {
    const Slot &slot = ctx->slots[index];
    if (!slot.busy || slot.io.generation != generation || !ctx->ring_ready) return count;
    int ret = Block(ctx);
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) return count; /* the core asks again */
    count = Drain(ctx, ctx->table, count);
    if (ctx->stash_count > 0) {
      memcpy(ctx->table + 3 * static_cast<size_t>(count), ctx->stash.data(), sizeof(int32_t) * 3 * ctx->stash_count);
      count += ctx->stash_count;
      ctx->stash_count = 0;
    }
  }
}

// ---------------------------------------------------------------------------
// Cancelling.
// ---------------------------------------------------------------------------

/*
 * Submits an IORING_OP_ASYNC_CANCEL for the IO and waits for the cancel's
 * own CQE (it completes at once: it only looks the IO up).  Completions
 * reaped meanwhile go to the stash, delivered by the prepare handle.
 * Returns 0 (the IO will complete with -ECANCELED), 1 (too late: it
 * completes normally) or 2 (the kernel cannot cancel).
 */
int CancelIo(Context *ctx, uint32_t index, uint32_t generation) {
  const Slot &slot = ctx->slots[index];
  if (!ctx->ring_ready || !slot.busy || slot.io.generation != generation) return 1;
  if (!ctx->cancel_ok || ctx->ring_broken) return 2;
  ctx->counters.cancelRequests++;
  if (Flush(ctx) < 0 || !ctx->pending.empty()) return 1;
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ctx->ring);
  if (sqe == nullptr) return 1;
  io_uring_prep_cancel64(sqe, UserData(index, generation), 0);
  io_uring_sqe_set_data64(sqe, kCancelTag);
  ctx->pending.push_back(kNotAnIo);
  ctx->cancel_seen = false;
  if (Flush(ctx) < 0) return 1; /* the request stays queued; its late CQE is ignored */
  while (!ctx->cancel_seen) {
    ctx->stash_count = Drain(ctx, ctx->stash.data(), ctx->stash_count);
    if (ctx->cancel_seen) break;
    struct io_uring_cqe *cqe;
    int ret = io_uring_wait_cqe(&ctx->ring, &cqe);
    if (ret < 0 && ret != -EINTR) return 1;
  }
  if (ctx->stash_count > 0) SchedulePrepare(ctx);
  if (ctx->cancel_result != 0) return 1;
  ctx->counters.canceled++;
  return 0;
}

// ---------------------------------------------------------------------------
// Teardown.
// ---------------------------------------------------------------------------

void ReleaseHolder(Context *ctx) {
  if (--ctx->holders == 0) delete ctx;
}

/* Runs after a libuv handle closed: the last one ends the environment's wait for this context. */
void OnHandleClosed(uv_handle_t *handle) {
  Context *ctx = static_cast<Context *>(handle->data);
  if (--ctx->open_handles == 0 && ctx->cleanup != nullptr) {
    napi_remove_async_cleanup_hook(ctx->cleanup);
    ctx->cleanup = nullptr;
  }
  ReleaseHolder(ctx);
}

/*
 * Waits for every IO the kernel still has, dropping the completions: the
 * context is going away with IO in flight (its environment is exiting), and
 * the buffers stay alive until we return.  Cancellation first, so that IO
 * that may never complete on its own (a pipe read) ends now.
 */
void Quiesce(Context *ctx) {
  Flush(ctx);
  for (uint32_t index : ctx->pending) {
    /* Never seen by the kernel: nothing to wait for (the ring dies with the SQE in it). */
    ctx->stash_count = 0;
    if (index != kNotAnIo) FinishSlot(ctx, index, -ECANCELED, ctx->stash.data(), &ctx->stash_count);
  }
  ctx->pending.clear();
  if (ctx->busy > 0 && ctx->cancel_ok) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ctx->ring);
    if (sqe != nullptr) {
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data64(sqe, kCancelAllTag);
      io_uring_submit(&ctx->ring);
    }
  }
  while (ctx->busy > 0) {
    ctx->stash_count = Drain(ctx, ctx->stash.data(), 0);
    struct io_uring_cqe *cqe;
    int ret = ctx->busy > 0 ? io_uring_wait_cqe(&ctx->ring, &cqe) : 0;
    if (ret < 0 && ret != -EINTR) Nap();
  }
  ctx->stash_count = 0;
}

void ReleaseReferences(Context *ctx) {
  napi_env env = ctx->env;
  for (napi_ref *ref : {&ctx->words_ref, &ctx->table_ref, &ctx->on_complete, &ctx->self, &ctx->registered}) {
    if (*ref != nullptr) napi_delete_reference(env, *ref);
    *ref = nullptr;
  }
  if (ctx->async_context != nullptr) napi_async_destroy(env, ctx->async_context);
  ctx->async_context = nullptr;
}

/*
 * Ends the context: waits for IO still in the kernel, frees the ring (which
 * unpins registered buffers and files), drops every JavaScript reference
 * and closes the libuv handles.  Idempotent; called by close(), by the
 * wrapper's finalizer and by the environment's cleanup hook.
 */
void Teardown(Context *ctx) {
  if (ctx->state == State::kClosed) return;
  if (ctx->ring_ready) {
    Quiesce(ctx);
    io_uring_unregister_eventfd(&ctx->ring);
    io_uring_queue_exit(&ctx->ring);
    ctx->ring_ready = false;
  }
  ctx->state = State::kClosed;
  ctx->inflight = 0;
  ReleaseReferences(ctx);
  if (ctx->poll_init) {
    /* uv_poll_stop drops the fd from libuv's epoll set, so the eventfd can go now, not in a later loop turn. */
    uv_poll_stop(&ctx->poll);
    close(ctx->eventfd);
    ctx->eventfd = -1;
    uv_close(reinterpret_cast<uv_handle_t *>(&ctx->poll), OnHandleClosed);
  }
  uv_close(reinterpret_cast<uv_handle_t *>(&ctx->prepare), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t *>(&ctx->retry), OnHandleClosed);
}

void Finalize(napi_env env, void *data, void *hint) {
  Context *ctx = static_cast<Context *>(data);
  Teardown(ctx);
  ReleaseHolder(ctx);
}

/* The environment is exiting (worker termination, process end): wait for in-flight IO, then close. */
void OnEnvironmentTeardown(napi_async_cleanup_hook_handle handle, void *arg) { Teardown(static_cast<Context *>(arg)); }

// ---------------------------------------------------------------------------
// Creating a context.
// ---------------------------------------------------------------------------

/* libuv handles that exist for the whole context: the coalescing prepare handle and the retry timer. */
void InitHandles(Context *ctx) {
  uv_prepare_init(ctx->loop, &ctx->prepare);
  uv_timer_init(ctx->loop, &ctx->retry);
  ctx->prepare.data = ctx;
  ctx->retry.data = ctx;
  uv_unref(reinterpret_cast<uv_handle_t *>(&ctx->prepare));
  uv_unref(reinterpret_cast<uv_handle_t *>(&ctx->retry));
  ctx->open_handles += 2;
  ctx->holders += 2;
}

/* The wrapper object JavaScript holds; it also holds onComplete, so the context's weak reference to it is enough. */
napi_value WrapContext(napi_env env, Context *ctx, napi_value on_complete) {
  napi_value object;
  if (napi_create_object(env, &object) != napi_ok || napi_type_tag_object(env, object, &kContextTag) != napi_ok) return nullptr;
  napi_property_descriptor property = {"onComplete", nullptr, nullptr, nullptr, nullptr, on_complete, napi_default, nullptr};
  if (napi_define_properties(env, object, 1, &property) != napi_ok) return nullptr;
  if (napi_wrap(env, object, ctx, Finalize, nullptr, nullptr) != napi_ok) return nullptr;
  return object;
}

bool CreateReferences(napi_env env, Context *ctx, napi_value object, napi_value *argv, napi_value registered) {
  napi_valuetype type;
  napi_typeof(env, registered, &type);
  napi_value name;
  napi_create_string_utf8(env, "aio:io_uring", NAPI_AUTO_LENGTH, &name);
  return napi_create_reference(env, argv[1], 1, &ctx->words_ref) == napi_ok &&
         napi_create_reference(env, argv[2], 1, &ctx->table_ref) == napi_ok &&
         napi_create_reference(env, argv[3], 0, &ctx->on_complete) == napi_ok &&
         napi_create_reference(env, object, 0, &ctx->self) == napi_ok &&
         (type == napi_undefined || napi_create_reference(env, registered, 1, &ctx->registered) == napi_ok) &&
         napi_async_init(env, nullptr, name, &ctx->async_context) == napi_ok;
}

}  // namespace

/* create(options, words, completions, onComplete): a context with its ring. */
napi_value Create(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!Args(env, info, argv)) return nullptr;
  Options opt;
  if (!DecodeOptions(env, argv[0], &opt)) return nullptr;
  double *words = static_cast<double *>(aio_typed_array_data(env, argv[1], napi_float64_array, AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE,
                                                             "words must be a Float64Array of AIO_SUBMIT_MAX * AIO_SUBMIT_STRIDE"));
  if (words == nullptr) return nullptr;
  int32_t *table = static_cast<int32_t *>(aio_typed_array_data(env, argv[2], napi_int32_array, 3 * static_cast<size_t>(opt.max_concurrency),
                                                               "completions must be an Int32Array of 3 * maxConcurrency"));
  if (table == nullptr) return nullptr;
  napi_valuetype type;
  if (napi_typeof(env, argv[3], &type) != napi_ok || type != napi_function) return ThrowType(env, "onComplete must be a function");
  napi_value registered;
  std::vector<BufferRange> ranges;
  if (!DecodeRegisteredBuffers(env, argv[0], &registered, &ranges)) return nullptr;
  uv_loop_t *loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return ThrowType(env, "no event loop");

  Context *ctx = new Context();
  ctx->env = env;
  ctx->loop = loop;
  ctx->opt = opt;
  ctx->words = words;
  ctx->table = table;
  ctx->ranges = std::move(ranges);
  ctx->slots.resize(opt.max_concurrency);
  ctx->pending.reserve(2 * static_cast<size_t>(opt.max_concurrency) + 2);
  ctx->stash.resize(3 * static_cast<size_t>(opt.max_concurrency));
  InitHandles(ctx);
  napi_value object = WrapContext(env, ctx, argv[3]);
  if (object == nullptr) {
    Teardown(ctx); /* closes the handles; their callbacks and this release free ctx */
    ReleaseHolder(ctx);
    return nullptr;
  }
  /* From here the wrapper owns ctx (its finalizer tears it down), so failures just throw. */
  if (!CreateReferences(env, ctx, object, argv, registered)) return nullptr;
  napi_add_async_cleanup_hook(env, OnEnvironmentTeardown, ctx, &ctx->cleanup);
  /*
   * The ring now, not at the first IO: a ring created later takes the
   * lowest free fd, which may be the number of an fd the caller just closed,
   * and IO on that stale number would then reach the ring instead of failing
   * with EBADF.  A setup failure is an error here, where the user can see it.
   */
  int ret = EnsureRing(ctx);
  if (ret != 0) {
    std::string reason = SetupFailureReason(-ret);
    napi_throw_error(env, "AIO_ERR_METHOD_UNAVAILABLE", reason.c_str());
    return nullptr;
  }
  return object;
}

/* submit(context, count, views): writes each IO's disposition into word 9. */
napi_value Submit(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, argv)) return nullptr;
  Context *ctx = Unwrap(env, argv[0]);
  uint32_t count, nviews;
  bool is_array = false;
  if (ctx == nullptr || !GetUint32(env, argv[1], 0, AIO_SUBMIT_MAX, "count must be an integer from 0 to 32", &count)) return nullptr;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[2], &nviews) != napi_ok) {
    return ThrowType(env, "views must be an array of ArrayBufferViews");
  }
  bool usable = EnsureRing(ctx) == 0 && !ctx->ring_broken;
  uint32_t accepted = 0;
  for (uint32_t i = 0; i < count; i++) {
    int disposition = usable ? SubmitOne(ctx, env, argv[2], nviews, i) : AIO_DISPOSITION_EAGAIN;
    ctx->words[static_cast<size_t>(i) * AIO_SUBMIT_STRIDE + 9] = disposition;
    if (disposition == AIO_DISPOSITION_ACCEPTED) accepted++;
  }
  if (accepted > 0 && count > 1) {
    if (Flush(ctx) > 0) ctx->counters.batchEnters++;
  } else if (accepted > 0) {
    SchedulePrepare(ctx);
  }
  UpdateLiveness(ctx);
  return Undefined(env);
}

/* poll(context): submits what is prepared and hands over what is ready, without blocking. */
napi_value Poll(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, argv)) return nullptr;
  Context *ctx = Unwrap(env, argv[0]);
  if (ctx == nullptr) return nullptr;
  if (Flush(ctx) > 0) ctx->counters.deferredFlushes++;
  uint32_t count = Collect(ctx);
  ctx->inflight -= count;
  UpdateLiveness(ctx);
  return Uint32(env, count);
}

/* The (context, index, generation) arguments of wait and cancel; nullptr after throwing. */
static Context *RefArgs(napi_env env, napi_callback_info info, uint32_t *index, uint32_t *generation) {
  napi_value argv[3];
  if (!Args(env, info, argv)) return nullptr;
  Context *ctx = Unwrap(env, argv[0]);
  if (ctx == nullptr || !GetUint32(env, argv[1], 0, ctx->opt.max_concurrency - 1, "index must be a handle index", index) ||
      !GetUint32(env, argv[2], 0, UINT32_MAX, "generation must be a uint32", generation)) {
    return nullptr;
  }
  return ctx;
}

/* wait(context, index, generation): blocks until that IO completed; hands over what is ready. */
napi_value Wait(napi_env env, napi_callback_info info) {
  uint32_t index, generation;
  Context *ctx = RefArgs(env, info, &index, &generation);
  if (ctx == nullptr) return nullptr;
  uint32_t count = WaitFor(ctx, index, generation);
  ctx->inflight -= count;
  UpdateLiveness(ctx);
  return Uint32(env, count);
}

/* cancel(context, index, generation): 0 canceled, 1 not canceled, 2 unsupported. */
napi_value Cancel(napi_env env, napi_callback_info info) {
  uint32_t index, generation;
  Context *ctx = RefArgs(env, info, &index, &generation);
  if (ctx == nullptr) return nullptr;
  return Uint32(env, static_cast<uint32_t>(CancelIo(ctx, index, generation)));
}

/* forgetFile(context, fd): before the fd is closed, drop what the context remembers about it. */
napi_value ForgetFile(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, argv)) return nullptr;
  Context *ctx = Unwrap(env, argv[0], false);
  uint32_t fd;
  if (ctx == nullptr || !GetUint32(env, argv[1], 0, INT_MAX, "fd must be a file descriptor", &fd)) return nullptr;
  if (ctx->state != State::kOpen) return Undefined(env);
  /* An SQE still naming the fd (or its fixed slot) must reach the kernel before the fd goes. */
  Flush(ctx);
  if (fd >= ctx->fds.size()) return Undefined(env);
  FdInfo &fdinfo = ctx->fds[fd];
  if (fdinfo.fixed >= 0 && ctx->ring_ready) {
    int none = -1;
    io_uring_register_files_update(&ctx->ring, static_cast<unsigned>(fdinfo.fixed), &none, 1);
    ctx->free_file_slots.push_back(fdinfo.fixed);
  }
  fdinfo = FdInfo();
  return Undefined(env);
}

/* close(context): frees the ring and the handles.  Every IO must have been delivered. */
napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, argv)) return nullptr;
  Context *ctx = Unwrap(env, argv[0], false);
  if (ctx == nullptr) return nullptr;
  if (ctx->inflight > 0 && ctx->state == State::kOpen) {
    napi_throw_error(env, "AIO_ERR_BUSY", "close() with IO in flight: wait for every IO first");
    return nullptr;
  }
  Teardown(ctx);
  return Undefined(env);
}

namespace {

void SetNumber(napi_env env, napi_value object, const char *name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, object, name, v);
}

}  // namespace

/* stats(context): the counters above plus the ring's current shape. */
napi_value Stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, argv)) return nullptr;
  Context *ctx = Unwrap(env, argv[0], false);
  if (ctx == nullptr) return nullptr;
  napi_value out;
  napi_create_object(env, &out);
  const Counters &c = ctx->counters;
  const std::pair<const char *, uint64_t> counters[] = {
      {"ios", c.ios}, {"enters", c.enters}, {"batchEnters", c.batchEnters}, {"deferredFlushes", c.deferredFlushes},
      {"cqes", c.cqes}, {"wakeups", c.wakeups}, {"deliveries", c.deliveries}, {"blockingWaits", c.blockingWaits},
      {"unsupported", c.unsupported}, {"invalid", c.invalid}, {"sqFull", c.sqFull}, {"asyncFlagged", c.asyncFlagged},
      {"fixedBufferIos", c.fixedBufferIos}, {"fixedFileIos", c.fixedFileIos}, {"cancelRequests", c.cancelRequests},
      {"canceled", c.canceled}, {"submitRetries", c.submitRetries}, {"strayCqes", c.strayCqes}};
  for (const auto &counter : counters) SetNumber(env, out, counter.first, static_cast<double>(counter.second));
  SetNumber(env, out, "ringCreated", ctx->ring_ready ? 1 : 0);
  SetNumber(env, out, "sqEntries", ctx->ring_ready ? ctx->ring.sq.ring_entries : 0);
  SetNumber(env, out, "cqEntries", ctx->ring_ready ? ctx->ring.cq.ring_entries : 0);
  SetNumber(env, out, "setupFlags", ctx->setup_flags_used);
  SetNumber(env, out, "setupErrno", ctx->setup_errno);
  SetNumber(env, out, "brokenErrno", ctx->broken_errno);
  SetNumber(env, out, "inFlight", ctx->inflight);
  SetNumber(env, out, "registeredBuffers", ctx->register_buffers_errno == 0 ? static_cast<double>(ctx->ranges.size()) : 0);
  SetNumber(env, out, "registerBuffersErrno", ctx->register_buffers_errno);
  SetNumber(env, out, "registeredFiles", ctx->register_files_errno == 0 ? ctx->opt.registered_files : 0);
  SetNumber(env, out, "registerFilesErrno", ctx->register_files_errno);
  return out;
}

}  // namespace aio_uring
