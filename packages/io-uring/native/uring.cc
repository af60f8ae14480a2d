/*
 * uring.cc: the io_uring method, one ring per Aio context.
 *
 * The life of an IO:
 *   1. binding.submit (JS thread): the kit decodes the IO into the handle's
 *      slot, and the IO joins the pending list.  Flush writes an SQE
 *      pointing at the slot's iovecs for every pending IO and enters.  A
 *      batch of two or more IOs (batch mode) goes to the kernel at once,
 *      with one io_uring_enter.  A single IO (outside batch mode) is only
 *      made pending: every IO started during one turn of the event loop is
 *      submitted together by the prepare handle, just before the loop
 *      blocks, or earlier by anything that must not wait (poll, wait,
 *      cancel, a drain).
 *   2. The kernel posts a CQE and signals the eventfd registered with the
 *      ring; the kit's watcher wakes the loop and OnEventfd() runs.
 *   3. DeliverReady() reaps every ready CQE into the JS completion table and
 *      calls JavaScript once for all of them (in a callback scope, so
 *      promise reactions run right after).  Then it submits what the
 *      JavaScript callbacks started.
 * binding.wait blocks in io_uring_submit_and_wait/io_uring_wait_cqe for
 * one IO and hands over whatever is ready; binding.poll never blocks.
 *
 * Invariants:
 * - every accepted IO produces exactly one table entry, delivered once;
 *   the kit counts those not yet handed to JavaScript (Accepted after
 *   Submit, Completed when moved into the table), and holds the context
 *   object strongly and the eventfd watcher referenced while any is left;
 * - the completion table is written only when it is about to be handed to
 *   JavaScript (poll, wait, deliver), never while JavaScript may still be
 *   reading a previous batch; cancel() reaps into `stash` instead;
 * - between calls the SQ ring holds no entry (without SQPOLL): Flush and
 *   SubmitControl take back whatever the kernel did not take, so the ring
 *   never holds an entry the context has given up on.
 */
#include "uring.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
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


/* user_data of SQEs that are not IOs.  IO user_data has a handle index < 1024 in the low half. */
const uint64_t kCancelTag = UINT64_MAX;
const uint64_t kCancelAllTag = UINT64_MAX - 1;

/* The kernel moves at most this much in one read or write (MAX_RW_COUNT). */
const uint64_t kMaxRw = 0x7ffff000;
/* The most iovecs the kernel takes in one readv/writev (UIO_MAXIOV). */
const uint32_t kMaxIov = 1024;
/* fds above this are not cached per fd (the cache is a vector indexed by fd). */
const int kMaxCachedFd = 1 << 20;
const uint32_t kPeekBatch = 32;
/* The smallest buffer a stat IO fills: 4 float64 (FILE-OPS.md). */
const size_t kStatBytes = 4 * sizeof(double);

// ---------------------------------------------------------------------------
// The context's own options (the kit reads maxConcurrency and the tables).
// ---------------------------------------------------------------------------

/* An optional integer option in [lo, hi]; absent leaves *out alone.  false after throwing. */
bool OptionU32(Napi::Object options, const char *name, double lo, double hi, uint32_t *out) {
  double value = *out;
  std::string what = std::string("options.") + name + " must be an integer in range";
  if (!aio::ReadOption(options, name, lo, hi, what.c_str(), &value)) return false;
  *out = static_cast<uint32_t>(value);
  return true;
}

bool OptionPolicy(Napi::Object options, AsyncPolicy *out) {
  Napi::Value value = options.Get("iosqeAsync");
  if (options.Env().IsExceptionPending()) return false;
  if (value.IsUndefined()) return true;
  std::string policy = value.IsString() ? value.As<Napi::String>().Utf8Value() : "";
  if (policy == "auto") *out = AsyncPolicy::kAuto;
  else if (policy == "never") *out = AsyncPolicy::kNever;
  else if (policy == "always") *out = AsyncPolicy::kAlways;
  else return aio::ThrowTypeError(options.Env(), "options.iosqeAsync must be 'auto', 'never' or 'always'"), false;
  return true;
}

bool DecodeOptions(Napi::Object options, Options *opt) {
  opt->sqpoll = aio::ReadFlag(options, "sqpoll");
  return !options.Env().IsExceptionPending() && OptionU32(options, "entries", 0, 32768, &opt->entries) &&
         OptionU32(options, "sqpollIdleMs", 1, 3600000, &opt->sqpoll_idle_ms) && OptionPolicy(options, &opt->async_policy) &&
         OptionU32(options, "asyncMinBytes", 0, UINT32_MAX, &opt->async_min_bytes) &&
         OptionU32(options, "registeredFiles", 0, 32768, &opt->registered_files) &&
         OptionU32(options, "disabledOps", 0, (1u << kOpCount) - 1, &opt->disabled_ops) &&
         OptionU32(options, "routeKinds", 0, kRouteAll, &opt->route_kinds) &&
         OptionU32(options, "routeThreads", 1, 64, &opt->route_threads);
}

/*
 * The registered buffers: options.registeredBuffers, an array of Uint8Array
 * (the JS side turns every view into one).  Fills `ranges` sorted by base.
 */
bool DecodeRegisteredBuffers(Napi::Object options, std::vector<BufferRange> *ranges) {
  Napi::Env env = options.Env();
  Napi::Value value = options.Get("registeredBuffers");
  if (env.IsExceptionPending()) return false;
  if (value.IsUndefined()) return true;
  if (!value.IsArray() || value.As<Napi::Array>().Length() > 16384) {
    return aio::ThrowTypeError(env, "options.registeredBuffers must be an array of at most 16384 Uint8Arrays"), false;
  }
  Napi::Array array = value.As<Napi::Array>();
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value view = array.Get(i);
    if (env.IsExceptionPending()) return false;
    void *data = aio_typed_array_data(env, view, napi_uint8_array, 1, "options.registeredBuffers must hold non-empty Uint8Arrays");
    if (data == nullptr) return false;
    uintptr_t base = reinterpret_cast<uintptr_t>(data);
    ranges->push_back({base, base + view.As<Napi::Uint8Array>().ByteLength(), i});
  }
  std::sort(ranges->begin(), ranges->end(), [](const BufferRange &a, const BufferRange &b) { return a.base < b.base; });
  return true;
}

// ---------------------------------------------------------------------------
// Per-fd facts: the registered-file slot.
// ---------------------------------------------------------------------------

FdInfo *InfoFor(UringContext *ctx, int fd) {
  if (fd < 0 || fd >= kMaxCachedFd) return nullptr;
  if (static_cast<size_t>(fd) >= ctx->fds.size()) ctx->fds.resize(static_cast<size_t>(fd) + 1);
  return &ctx->fds[static_cast<size_t>(fd)];
}

/* The registered-file index for fd, registering it on first use; -1 to use the plain fd. */
int FixedFileFor(UringContext *ctx, int fd) {
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

/*
 * What routing needs to know about fd: learnt at its first IO with fstat
 * and fcntl(F_GETFL), cached until forgetFile.  nullptr for an fd too large
 * to cache (then nothing is routed).
 */
const FdInfo *FdFacts(UringContext *ctx, int fd) {
  FdInfo *info = InfoFor(ctx, fd);
  if (info == nullptr || info->known) return info;
  struct stat st;
  int flags = fcntl(fd, F_GETFL);
  info->regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  info->dsync = flags >= 0 && (flags & O_DSYNC) == O_DSYNC;
  info->direct = flags >= 0 && (flags & O_DIRECT) != 0;
  /* A failed look-up (EBADF) is not cached: the IO itself reports it, through the ring. */
  info->known = flags >= 0;
  return info;
}

/*
 * Whether an IO runs on the context's threads (README "Routing"): a read or
 * write of a regular file's page cache whose kind is in `route_kinds`.
 * Never O_DIRECT IO (the ring wins it by far), never IO flagged
 * REFERENCES_LOCAL (memory only the issuing thread may touch, as the thread
 * pool method also keeps it), never the syncs and file operations (the
 * kernel already runs those on io-wq workers, unhashed).  *dsync says
 * whether it is a write to an O_DSYNC file.
 */
bool RouteFor(UringContext *ctx, const aio_io *io, bool *dsync) {
  *dsync = false;
  uint32_t kinds = ctx->opt.route_kinds;
  if (kinds == 0 || ctx->workers.start_errno != 0) return false;
  if (io->op < AIO_OP_READ || io->op > AIO_OP_WRITEV) return false;
  if ((io->flags & (AIO_IO_FILE_DIRECT | AIO_FLAG_REFERENCES_LOCAL)) != 0) return false;
  const FdInfo *info = FdFacts(ctx, static_cast<int>(io->file));
  if (info == nullptr || !info->known || !info->regular || info->direct) return false;
  bool write = io->op == AIO_OP_WRITE || io->op == AIO_OP_WRITEV;
  uint32_t kind = write ? (info->dsync ? kRouteDsyncWrites : kRouteWrites)
                        : ((io->flags & AIO_FLAG_BUFFERED) != 0 ? kRouteBufferedReads : kRouteReads);
  *dsync = write && info->dsync;
  return (kinds & kind) != 0;
}

/* The registered buffer that holds [base, base + length), or -1. */
int FixedBufferFor(const UringContext *ctx, const void *base, uint64_t length) {
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

/* Whether the kernel has `opcode` (without the probe, 5.1 to 5.5: only the 5.1 opcodes). */
bool HasOpcode(const struct io_uring_probe *probe, int opcode) {
  if (probe == nullptr) return opcode <= IORING_OP_WRITE_FIXED;
  return io_uring_opcode_supported(const_cast<struct io_uring_probe *>(probe), opcode) != 0;
}

/* Records which of our ops the kernel supports (io_uring_get_probe_ring needs 5.6; older kernels have the 5.1 set). */
void ProbeOpcodes(UringContext *ctx) {
  struct io_uring_probe *probe = io_uring_get_probe_ring(&ctx->ring);
  ctx->use_read_op = probe != nullptr && HasOpcode(probe, IORING_OP_READ) && HasOpcode(probe, IORING_OP_WRITE);
  ctx->fixed_rw_ok = HasOpcode(probe, IORING_OP_READ_FIXED) && HasOpcode(probe, IORING_OP_WRITE_FIXED);
  ctx->cancel_ok = probe != nullptr && HasOpcode(probe, IORING_OP_ASYNC_CANCEL);
  bool ok[kOpCount];
  SupportedOps(probe, ok);
  for (int op = 1; op < kOpCount; op++) ctx->op_ok[op] = ok[op] && (ctx->opt.disabled_ops & (1u << op)) == 0;
  if (probe != nullptr) io_uring_free_probe(probe);
}

/*
 * Creates the ring.  No setup flags but SQPOLL when asked, as PostgreSQL
 * does: COOP_TASKRUN, SINGLE_ISSUER and DEFER_TASKRUN measured no better
 * here (README "Measurements").
 */
int InitRing(UringContext *ctx) {
  uint32_t entries = ctx->opt.entries != 0 ? ctx->opt.entries : std::max<uint32_t>(ctx->capacity(), 8);
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
void RegisterBuffers(UringContext *ctx) {
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
void RegisterFiles(UringContext *ctx) {
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

void OnEventfd(aio::Context *context);

/*
 * The eventfd the kernel signals on every CQE, registered with the ring.
 * The kit's watcher (aio::LoopCompletions) watches it on the event loop,
 * referenced only while IO is in flight.  Returns 0 or -errno; a failure of
 * the watcher itself has thrown (-EINVAL then).
 */
int WatchCompletions(UringContext *ctx) {
  ctx->eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ctx->eventfd < 0) return -errno;
  int ret = io_uring_register_eventfd(&ctx->ring, ctx->eventfd);
  if (ret == 0 && !ctx->completions.Init(ctx, ctx->eventfd, OnEventfd)) ret = -EINVAL;
  if (ret != 0) {
    close(ctx->eventfd);
    ctx->eventfd = -1;
  }
  return ret;
}

/* Sets the ring up (in create; submit retries if it ever failed).  Returns 0, or -errno (kept in setup_errno). */
int EnsureRing(UringContext *ctx) {
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
 * The IOSQE_ASYNC policy (README "The IOSQE_ASYNC policy"), for reads and
 * writes on files not opened for direct I/O (O_DIRECT IO has no page-cache
 * copy to move off this thread, so it always stays inline):
 * - an IO whose handle is flagged `buffered` (PostgreSQL's rule; the read
 *   stream flags its IO so) is punted at any depth: the kernel's io-wq
 *   workers copy page-cache data beside this thread.  A depth floor does not
 *   work here: inline page-cache reads complete inside io_uring_enter, so
 *   the depth stays low and nothing would ever be punted (read stream,
 *   128 KiB blocks: 1.0 GB/s with PostgreSQL's "more than 4 in flight",
 *   2.5 GB/s punted);
 * - any other write, once more than 4 IOs are in flight: inline it mostly
 *   fails its non-blocking attempt and is punted anyway, so punting it at
 *   once skips that attempt (8 KiB random writes: 83k → 132k/s);
 * - unflagged reads stay inline: punting a random page-cache read costs
 *   more than it gains unless the machine is oversubscribed.
 */
bool WantsAsync(const UringContext *ctx, const aio_io *io) {
  if (ctx->opt.async_policy != AsyncPolicy::kAuto) return ctx->opt.async_policy == AsyncPolicy::kAlways;
  /* Syncs and file operations: the kernel punts them to io-wq itself. */
  if (io->op < AIO_OP_READ || io->op > AIO_OP_WRITEV || (io->flags & AIO_IO_FILE_DIRECT) != 0) return false;
  if (io->length < ctx->opt.async_min_bytes) return false;
  if ((io->flags & AIO_FLAG_BUFFERED) != 0) return true;
  bool write = io->op == AIO_OP_WRITE || io->op == AIO_OP_WRITEV;
  return write && ctx->inflight() + ctx->accepting + 1 > 4;
}

/*
 * Decides, once per IO, what its SQE will say: the registered file or the
 * plain fd, the registered buffer, IOSQE_ASYNC.  The SQE itself is written
 * by PrepSqe when the IO is handed to the kernel, which may happen more than
 * once if the kernel refuses it at first; so everything counted is counted
 * here.
 */
void PlanSqe(UringContext *ctx, Slot *slot) {
  aio_io *io = &slot->io;
  int fd = static_cast<int>(io->file);
  /* STATX takes a directory fd and a path, never a registered file (the kernel answers EBADF). */
  int fixed = io->op == AIO_OP_STAT ? -1 : FixedFileFor(ctx, fd);
  slot->sqe_flags = 0;
  slot->sqe_fd = fixed >= 0 ? fixed : fd;
  if (fixed >= 0) {
    slot->sqe_flags |= IOSQE_FIXED_FILE;
    ctx->counters.fixedFileIos++;
  }
  slot->sqe_buffer = -1;
  if (io->op == AIO_OP_READ || io->op == AIO_OP_WRITE) {
    slot->sqe_buffer = FixedBufferFor(ctx, io->iov[0].base, std::min<uint64_t>(io->iov[0].len, kMaxRw));
    if (slot->sqe_buffer >= 0) ctx->counters.fixedBufferIos++;
  }
  if (WantsAsync(ctx, io)) {
    slot->sqe_flags |= IOSQE_ASYNC;
    ctx->counters.asyncFlagged++;
  }
}

/* A read or write of one buffer: READ_FIXED/WRITE_FIXED inside a registered buffer, else READ/WRITE (or a 1-vector READV/WRITEV before 5.6). */
void PrepSingle(const UringContext *ctx, struct io_uring_sqe *sqe, const Slot &slot) {
  const aio_io *io = &slot.io;
  bool read = io->op == AIO_OP_READ;
  int fd = slot.sqe_fd;
  void *base = io->iov[0].base;
  unsigned length = static_cast<unsigned>(std::min<uint64_t>(io->iov[0].len, kMaxRw));
  if (slot.sqe_buffer >= 0) {
    if (read) io_uring_prep_read_fixed(sqe, fd, base, length, io->offset, slot.sqe_buffer);
    else io_uring_prep_write_fixed(sqe, fd, base, length, io->offset, slot.sqe_buffer);
  } else if (ctx->use_read_op) {
    if (read) io_uring_prep_read(sqe, fd, base, length, io->offset);
    else io_uring_prep_write(sqe, fd, base, length, io->offset);
  } else {
    const struct iovec *iov = reinterpret_cast<const struct iovec *>(io->iov);
    if (read) io_uring_prep_readv(sqe, fd, iov, 1, io->offset);
    else io_uring_prep_writev(sqe, fd, iov, 1, io->offset);
  }
}

/*
 * stat, truncate, allocate (FILE-OPS.md).  The kernel runs all three on its
 * io-wq workers whatever the flags say.  stat asks STATX about the fd itself
 * (an empty path with AT_EMPTY_PATH; the literal lives forever) into the
 * slot's scratch; truncate's new length travels in `offset`.
 */
void PrepFileOp(struct io_uring_sqe *sqe, Slot &slot) {
  const aio_io *io = &slot.io;
  int fd = slot.sqe_fd;
  if (io->op == AIO_OP_STAT) {
    io_uring_prep_statx(sqe, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &slot.statx_scratch);
  } else if (io->op == AIO_OP_TRUNCATE) {
    io_uring_prep_rw(kOpFtruncate, sqe, fd, nullptr, 0, io->offset);
  } else {
    int mode = (io->flags & AIO_FLAG_KEEP_SIZE) != 0 ? FALLOC_FL_KEEP_SIZE : 0;
    io_uring_prep_fallocate(sqe, fd, mode, static_cast<off_t>(io->offset), static_cast<off_t>(io->length));
  }
}

/* Writes the SQE of an accepted IO, as PlanSqe decided it. */
void PrepSqe(const UringContext *ctx, struct io_uring_sqe *sqe, Slot &slot) {
  const aio_io *io = &slot.io;
  int fd = slot.sqe_fd;
  const struct iovec *iov = reinterpret_cast<const struct iovec *>(io->iov);
  switch (io->op) {
    case AIO_OP_READ:
    case AIO_OP_WRITE: PrepSingle(ctx, sqe, slot); break;
    case AIO_OP_READV: io_uring_prep_readv(sqe, fd, iov, io->iovcnt, io->offset); break;
    case AIO_OP_WRITEV: io_uring_prep_writev(sqe, fd, iov, io->iovcnt, io->offset); break;
    case AIO_OP_FSYNC: io_uring_prep_fsync(sqe, fd, 0); break;
    case AIO_OP_FDATASYNC: io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC); break;
    default: PrepFileOp(sqe, slot); break;
  }
  io_uring_sqe_set_flags(sqe, slot.sqe_flags);
  io_uring_sqe_set_data64(sqe, UserData(static_cast<uint32_t>(io->index), io->generation));
}

// ---------------------------------------------------------------------------
// Submitting.
//
// The ring never holds an entry the context has given up on.  Only Flush
// and SubmitControl write SQEs, and before they return, whatever the kernel
// did not take is taken back out of the ring (Settle).  Without that, an
// entry that stayed in the ring after a failed io_uring_enter would go to
// the kernel with the next one, after the IO had been run synchronously
// (the ring broke) or dropped (teardown): a write done twice, or a read
// into memory whose owner was told the IO was over.
// ---------------------------------------------------------------------------

void OnPrepare(uv_prepare_t *handle);
void OnRetry(uv_timer_t *handle);
uint32_t Drain(UringContext *ctx, int32_t *dest, uint32_t count);

/* How many times Flush and SubmitControl retry a transient refusal at once, before leaving it to the retry timer. */
const int kImmediateRetries = 4;

/* Asks the prepare handle to run before the loop next blocks: it flushes SQEs and delivers stashed completions. */
void SchedulePrepare(UringContext *ctx) {
  if (ctx->prepare_active || !ctx->open() || ctx->timers == nullptr) return;
  ctx->prepare_active = true;
  uv_prepare_start(&ctx->timers->prepare, OnPrepare);
}

/* The kernel took the first `n` pending IOs. */
void ConsumePending(UringContext *ctx, uint32_t n) {
  n = std::min<uint32_t>(n, static_cast<uint32_t>(ctx->pending.size()));
  for (uint32_t i = 0; i < n; i++) ctx->slots[ctx->pending[i]].pending = false;
  ctx->pending.erase(ctx->pending.begin(), ctx->pending.begin() + n);
}

void RunSynchronously(UringContext *ctx, uint32_t index);

/*
 * io_uring_enter failed with an error that is not transient: the ring
 * cannot take submissions any more (it never happens on a healthy ring).
 * The pending IOs have no SQE in the ring (Settle took them back), so the
 * kernel will never see them: they run synchronously here and complete
 * through the stash.  IOs the kernel has still complete through the CQ;
 * every later IO goes to the core's synchronous fallback.
 */
void BreakRing(UringContext *ctx, int error) {
  ctx->ring_broken = true;
  ctx->broken_errno = error;
  for (uint32_t index : ctx->pending) RunSynchronously(ctx, index);
  ctx->pending.clear();
  SchedulePrepare(ctx);
}

/* The kernel refused for now: the retry timer tries again in a millisecond (the IO in flight keeps the loop alive). */
void ArmRetry(UringContext *ctx) {
  if (ctx->retry_active || !ctx->open() || ctx->timers == nullptr) return;
  ctx->retry_active = true;
  uv_timer_start(&ctx->timers->retry, OnRetry, 1, 0);
}

/* Refusals that say "not now" rather than "never": the kernel was short of memory or request slots, or its CQ was full. */
bool Transient(int ret) { return ret == -EAGAIN || ret == -ENOMEM || ret == -EBUSY || ret == -EINTR; }

/*
 * Test hook (Context::enter_faults): publishes the SQEs the way
 * io_uring_submit does before it enters, then fails with the fault's errno
 * without entering, or enters asking the kernel to take only some of them.
 */
int InjectedEnter(UringContext *ctx) {
  int32_t fault = ctx->enter_faults.front();
  ctx->enter_faults.erase(ctx->enter_faults.begin());
  struct io_uring_sq *sq = &ctx->ring.sq;
  for (unsigned i = *sq->ktail; i != sq->sqe_tail; i++) sq->array[i & sq->ring_mask] = i & sq->ring_mask;
  sq->sqe_head = sq->sqe_tail;
  io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
  if (fault > 0) return -fault;
  return io_uring_enter(ctx->ring.ring_fd, static_cast<unsigned>(-fault - 1), 0, 0, nullptr);
}

/* Hands the SQEs written since the last enter to the kernel (and waits for `wait_nr` completions).  The kernel's answer. */
int Enter(UringContext *ctx, unsigned wait_nr) {
  if (!ctx->enter_faults.empty()) return InjectedEnter(ctx);
  return wait_nr > 0 ? io_uring_submit_and_wait(&ctx->ring, wait_nr) : io_uring_submit(&ctx->ring);
}

/*
 * After an io_uring_enter for `written` new SQEs: how many the kernel took.
 * The rest are taken back out of the ring, so that no later enter sends
 * them: the SQ tail goes back to the kernel's head.  Without SQPOLL only
 * io_uring_enter, on this thread, reads the SQ, so that is safe.  With
 * SQPOLL the kernel's thread may take a published SQE at any moment, so
 * every published SQE counts as taken (its IO is waited for like any other).
 */
uint32_t Settle(UringContext *ctx, uint32_t written, unsigned head_before) {
  if ((ctx->setup_flags_used & IORING_SETUP_SQPOLL) != 0) return written;
  struct io_uring_sq *sq = &ctx->ring.sq;
  unsigned head = io_uring_smp_load_acquire(sq->khead);
  if (sq->sqe_tail != head) {
    io_uring_smp_store_release(sq->ktail, head);
    sq->sqe_head = sq->sqe_tail = head;
  }
  return head - head_before;
}

/* Writes an SQE for each pending IO, in order, while the ring has room; returns how many. */
uint32_t PrepPending(UringContext *ctx) {
  uint32_t written = 0;
  for (uint32_t index : ctx->pending) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ctx->ring);
    if (sqe == nullptr) break;
    PrepSqe(ctx, sqe, ctx->slots[index]);
    written++;
  }
  return written;
}

/* A full CQ makes the kernel refuse submissions (EBUSY): reap what is ready into the stash, delivered by the prepare handle. */
void MakeRoomInCq(UringContext *ctx) {
  ctx->stash_count = Drain(ctx, ctx->stash.data(), ctx->stash_count);
  if (ctx->stash_count > 0) SchedulePrepare(ctx);
}

/*
 * One attempt: writes the pending IOs' SQEs, enters, and takes back what the
 * kernel did not take.  Returns the kernel's answer; *taken says how many
 * IOs left `pending`.
 */
int SubmitPendingOnce(UringContext *ctx, unsigned wait_nr, uint32_t *taken) {
  unsigned head_before = io_uring_smp_load_acquire(ctx->ring.sq.khead);
  uint32_t written = PrepPending(ctx);
  int ret = written > 0 ? Enter(ctx, wait_nr) : -EAGAIN;
  *taken = written > 0 ? Settle(ctx, written, head_before) : 0;
  ConsumePending(ctx, *taken);
  if (ret >= 0) ctx->counters.enters++;
  return ret;
}

/*
 * Hands every pending IO to the kernel, waiting for `wait_nr` completions
 * if asked.  Transient refusals (EAGAIN, ENOMEM, EBUSY after reaping, EINTR,
 * nothing taken) are retried at once a few times, then by the retry timer;
 * any other error breaks the ring.  Returns how many IOs the kernel took, or
 * the last error if it took none.
 */
int Flush(UringContext *ctx, unsigned wait_nr = 0) {
  if (ctx->pending.empty() || !ctx->ring_ready || ctx->ring_broken) return 0;
  uint32_t total = 0;
  int ret = 0;
  for (int refusals = 0; !ctx->pending.empty();) {
    uint32_t taken;
    ret = SubmitPendingOnce(ctx, wait_nr, &taken);
    total += taken;
    if (taken > 0 && ret >= 0) continue; /* the SQ was smaller than the batch, or the kernel stopped early: go on */
    if (ret < 0 && !Transient(ret)) {
      BreakRing(ctx, -ret);
      break;
    }
    ctx->counters.submitRetries++;
    if (ret == -EBUSY) MakeRoomInCq(ctx);
    if (++refusals > kImmediateRetries) {
      ArmRetry(ctx);
      break;
    }
  }
  return total > 0 || ret >= 0 ? static_cast<int>(total) : ret;
}

/*
 * Submits one SQE that is not an IO (a cancel request) on its own: the ring
 * holds nothing else between calls.  Transient refusals are retried a few
 * times; if the kernel does not take it, it is taken back out of the ring.
 * Returns whether the kernel took it.
 */
bool SubmitControl(UringContext *ctx, uint64_t user_data, uint64_t target, int cancel_flags) {
  for (int attempt = 0; attempt <= kImmediateRetries; attempt++) {
    unsigned head_before = io_uring_smp_load_acquire(ctx->ring.sq.khead);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ctx->ring);
    if (sqe == nullptr) return false; /* SQPOLL: the kernel's thread has not emptied the ring yet */
    io_uring_prep_cancel64(sqe, target, cancel_flags);
    io_uring_sqe_set_data64(sqe, user_data);
    int ret = Enter(ctx, 0);
    if (Settle(ctx, 1, head_before) == 1) return true;
    if (ret < 0 && !Transient(ret)) return false;
    ctx->counters.submitRetries++;
    if (ret == -EBUSY) MakeRoomInCq(ctx);
  }
  return false;
}

/* Moves a decoded IO into its slot: the slot owns its iovecs from now on (inline ones are copied with it). */
void MoveIo(aio_io *to, aio_io *from) {
  memcpy(to, from, sizeof *to);
  if (from->iov == from->inline_iov) to->iov = to->inline_iov;
  from->iov = from->inline_iov; /* a malloc'ed vector now belongs to the slot */
  from->iovcnt = 0;
}

/*
 * One decoded IO of a submit call (the kit checked its words and buffers):
 * returns its disposition.  An accepted IO moves into its handle's slot and
 * waits in `pending` for Flush; any other is left to the caller to release.
 */
int AcceptIo(UringContext *ctx, aio_io *io) {
  Slot &slot = ctx->slots[static_cast<uint32_t>(io->index)];
  /* A read or write names exactly one buffer (PrepSingle uses iov[0]); a busy slot means the caller reused a handle. */
  bool single = io->op == AIO_OP_READ || io->op == AIO_OP_WRITE;
  bool stat_fits = io->op != AIO_OP_STAT || (io->iovcnt == 1 && io->iov[0].len >= kStatBytes);
  if (slot.busy || (single && io->iovcnt != 1) || !stat_fits) return ctx->counters.invalid++, AIO_DISPOSITION_UNSUPPORTED;
  if (io->op <= AIO_OP_INVALID || io->op >= kOpCount) return ctx->counters.unsupported++, AIO_DISPOSITION_UNSUPPORTED;
  /* More vectors than the kernel takes: the fallback does what node:fs (libuv) does with them. */
  if (!ctx->op_ok[io->op] || io->iovcnt > kMaxIov) return ctx->counters.unsupported++, AIO_DISPOSITION_UNSUPPORTED;
  bool dsync;
  bool routed = RouteFor(ctx, io, &dsync) && ctx->workers.Ensure(ctx->slots.data(), ctx->capacity(), ctx->opt.route_threads, ctx->eventfd);
  MoveIo(&slot.io, io);
  slot.busy = true;
  slot.routed = routed;
  if (routed) {
    /* Queued to the threads by Submit, after the loop: one lock and at most one wake-up per idle worker for the batch. */
    ctx->route_batch.push_back(static_cast<uint32_t>(slot.io.index));
    ctx->routed_busy++;
    ctx->counters.routed++;
    if (dsync) ctx->counters.routedDsyncWrites++;
  } else {
    PlanSqe(ctx, &slot);
    slot.pending = true;
    ctx->pending.push_back(static_cast<uint32_t>(slot.io.index));
  }
  ctx->busy++;
  ctx->accepting++;
  ctx->counters.ios++;
  return AIO_DISPOSITION_ACCEPTED;
}

// ---------------------------------------------------------------------------
// Reaping.
// ---------------------------------------------------------------------------

/* One double into `out` as 8 little-endian bytes, the contract's layout, whatever the host's byte order. */
void StoreLittleEndian(unsigned char *out, double value) {
  uint64_t bits;
  memcpy(&bits, &value, sizeof bits);
  for (int i = 0; i < 8; i++) out[i] = static_cast<unsigned char>(bits >> (8 * i));
}

/*
 * A stat IO's answer, from the slot's statx scratch into the IO's buffer
 * (AcceptIo checked it holds 32 bytes): size, allocated bytes, preferred
 * IO block size, modification time in ms.  The time is computed as node:fs
 * computes mtimeMs (seconds * 1e3 + nanoseconds / 1e6), so both agree to
 * the bit.
 */
void StoreStat(const Slot &slot) {
  const struct statx &st = slot.statx_scratch;
  unsigned char *out = static_cast<unsigned char *>(slot.io.iov[0].base);
  StoreLittleEndian(out, static_cast<double>(st.stx_size));
  StoreLittleEndian(out + 8, static_cast<double>(st.stx_blocks) * 512);
  StoreLittleEndian(out + 16, static_cast<double>(st.stx_blksize));
  StoreLittleEndian(out + 24, static_cast<double>(st.stx_mtime.tv_sec) * 1e3 + static_cast<double>(st.stx_mtime.tv_nsec) / 1e6);
}

/*
 * Records one finished IO in `dest` (triples) at *count and frees its slot.
 * Runs on the JS thread; a successful stat's buffer is filled here, before
 * JavaScript can see the completion, except at teardown, which drops the
 * completion anyway.
 */
void FinishSlot(UringContext *ctx, uint32_t index, int32_t result, int32_t *dest, uint32_t *count) {
  Slot &slot = ctx->slots[index];
  if (slot.io.op == AIO_OP_STAT && result == 0 && !ctx->quiescing) StoreStat(slot);
  int32_t *entry = dest + 3 * static_cast<size_t>(*count);
  entry[0] = static_cast<int32_t>(index);
  entry[1] = static_cast<int32_t>(slot.io.generation);
  entry[2] = result;
  (*count)++;
  aio_io_release(&slot.io);
  if (slot.routed) ctx->routed_busy--;
  slot.busy = slot.pending = slot.routed = false;
  ctx->busy--;
}

/* A file operation on this thread, the way its SQE would have run it (the stat answer lands in the slot's scratch). */
int32_t ExecuteFileOp(Slot &slot) {
  const aio_io *io = &slot.io;
  int fd = static_cast<int>(io->file);
  int mode = (io->flags & AIO_FLAG_KEEP_SIZE) != 0 ? FALLOC_FL_KEEP_SIZE : 0;
  int ret;
  do {
    // The raw system call: musl before 1.2.5 has no statx() wrapper, and the kernel's answer is what the SQE gives.
    if (io->op == AIO_OP_STAT) ret = static_cast<int>(syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &slot.statx_scratch));
    else if (io->op == AIO_OP_TRUNCATE) ret = ftruncate(fd, static_cast<off_t>(io->offset));
    else ret = fallocate(fd, mode, static_cast<off_t>(io->offset), static_cast<off_t>(io->length));
  } while (ret < 0 && errno == EINTR);
  return ret < 0 ? -errno : 0;
}

/* Runs an IO the kernel never took on this thread and stashes its completion. */
void RunSynchronously(UringContext *ctx, uint32_t index) {
  Slot &slot = ctx->slots[index];
  int32_t result = slot.io.op >= AIO_OP_STAT ? ExecuteFileOp(slot) : aio_io_execute(&slot.io);
  FinishSlot(ctx, index, result, ctx->stash.data(), &ctx->stash_count);
}

void HandleCqe(UringContext *ctx, uint64_t data, int32_t result, int32_t *dest, uint32_t *count) {
  if (data == kCancelTag) {
    ctx->cancel_seen = true;
    ctx->cancel_result = result;
    return;
  }
  if (data == kCancelAllTag) return;
  uint32_t index = static_cast<uint32_t>(data);
  uint32_t generation = static_cast<uint32_t>(data >> 32);
  if (index >= ctx->slots.size() || !ctx->slots[index].busy || ctx->slots[index].routed || ctx->slots[index].io.generation != generation) {
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
uint32_t Drain(UringContext *ctx, int32_t *dest, uint32_t count) {
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

/*
 * Takes the results the context's threads pushed into `dest` from position
 * `count`; returns the new count.  Each routed IO is reaped once, like a
 * CQE, so `dest` has room.
 */
uint32_t DrainRouted(UringContext *ctx, int32_t *dest, uint32_t count) {
  if (ctx->routed_busy == 0) return count;
  ctx->workers.Take(&ctx->route_results);
  for (const RoutedResult &r : ctx->route_results) {
    const Slot &slot = ctx->slots[r.index];
    if (!slot.busy || !slot.routed || slot.io.generation != r.generation) {
      ctx->counters.strayCqes++;
      continue;
    }
    FinishSlot(ctx, r.index, r.result, dest, &count);
  }
  ctx->route_results.clear();
  return count;
}

/* Everything ready for JavaScript, into the completion table: stashed completions first, then the CQ and the routed results. */
uint32_t Collect(UringContext *ctx) {
  uint32_t count = ctx->stash_count;
  if (count > 0) memcpy(ctx->table(), ctx->stash.data(), sizeof(int32_t) * 3 * count);
  ctx->stash_count = 0;
  return DrainRouted(ctx, ctx->table(), Drain(ctx, ctx->table(), count));
}

// ---------------------------------------------------------------------------
// Delivering completions to JavaScript from the event loop.
// ---------------------------------------------------------------------------

/*
 * Calls the JS onComplete(count) (the kit's Deliver) inside a callback
 * scope, as napi_make_callback would, so promise reactions and nextTicks
 * run when it returns, as after any I/O callback.  A throw (a bug: the core
 * never throws from there) becomes an uncaught exception, as it would for
 * any other callback.  The kit's watcher calls us from libuv with no
 * handle scope open, so this opens one.
 */
void CallOnComplete(UringContext *ctx, uint32_t count) {
  napi_env env = ctx->env();
  napi_handle_scope handles;
  if (napi_open_handle_scope(env, &handles) != napi_ok) return;
  napi_value resource;
  napi_callback_scope scope;
  if (napi_get_global(env, &resource) == napi_ok && napi_open_callback_scope(env, resource, ctx->async_context, &scope) == napi_ok) {
    ctx->counters.deliveries++;
    ctx->Deliver(count);
    bool thrown = false;
    if (napi_is_exception_pending(env, &thrown) == napi_ok && thrown) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
    napi_close_callback_scope(env, scope);
  }
  napi_close_handle_scope(env, handles);
}

/*
 * Hands every ready completion to JavaScript in one call, then submits
 * what the callbacks started.  JavaScript may close the context inside the
 * call; the context's memory outlives it (the kit frees it only when the
 * context object is collected), so only open() is checked afterwards.
 */
void DeliverReady(UringContext *ctx) {
  uint32_t count = Collect(ctx);
  if (count > 0) {
    ctx->Completed(count);
    CallOnComplete(ctx, count);
  }
  if (!ctx->open()) return;
  if (Flush(ctx) > 0) ctx->counters.deferredFlushes++;
}

/* The kit's watcher: the eventfd is readable, so the kernel posted CQEs. */
void OnEventfd(aio::Context *context) {
  UringContext *ctx = static_cast<UringContext *>(context);
  uint64_t value;
  /* Reset the counter (level-triggered poll); EAGAIN just means a waiter already reaped. */
  if (read(ctx->eventfd, &value, sizeof value) < 0 && errno != EAGAIN) return;
  ctx->counters.wakeups++;
  DeliverReady(ctx);
}


void OnTimersClosed(uv_handle_t *handle) {
  LoopTimers *timers = static_cast<LoopTimers *>(handle->data);
  if (--timers->open_handles > 0) return;
  if (timers->teardown != nullptr) napi_remove_async_cleanup_hook(timers->teardown);
  delete timers;
}

void CloseTimers(LoopTimers *timers) {
  if (timers->closing) return;
  timers->closing = true;
  timers->context = nullptr;
  uv_close(reinterpret_cast<uv_handle_t *>(&timers->prepare), OnTimersClosed);
  uv_close(reinterpret_cast<uv_handle_t *>(&timers->retry), OnTimersClosed);
}

/* The environment is going away: the context's own hook (newer) has normally closed the handles already. */
void OnTimersTeardown(napi_async_cleanup_hook_handle handle, void *arg) { CloseTimers(static_cast<LoopTimers *>(arg)); }

void OnPrepare(uv_prepare_t *handle) {
  UringContext *ctx = static_cast<LoopTimers *>(handle->data)->context;
  uv_prepare_stop(handle);
  if (ctx == nullptr || !ctx->open()) return;
  ctx->prepare_active = false;
  if (ctx->stash_count > 0) {
    DeliverReady(ctx);
  } else if (Flush(ctx) > 0) {
    ctx->counters.deferredFlushes++;
  }
}

void OnRetry(uv_timer_t *handle) {
  UringContext *ctx = static_cast<LoopTimers *>(handle->data)->context;
  if (ctx == nullptr || !ctx->open()) return;
  ctx->retry_active = false;
  Flush(ctx);
}

/* Creates the prepare handle and the retry timer; false after throwing. */
bool InitTimers(UringContext *ctx) {
  LoopTimers *timers = new LoopTimers();
  timers->context = ctx;
  uv_prepare_init(ctx->loop, &timers->prepare);
  uv_timer_init(ctx->loop, &timers->retry);
  timers->prepare.data = timers;
  timers->retry.data = timers;
  timers->open_handles = 2;
  uv_unref(reinterpret_cast<uv_handle_t *>(&timers->prepare));
  uv_unref(reinterpret_cast<uv_handle_t *>(&timers->retry));
  if (napi_add_async_cleanup_hook(ctx->env(), OnTimersTeardown, timers, &timers->teardown) != napi_ok) timers->teardown = nullptr;
  ctx->timers = timers;
  return true;
}

// ---------------------------------------------------------------------------
// Blocking for a completion.
// ---------------------------------------------------------------------------

/* Sleeps a millisecond: used when the kernel refuses submissions and has nothing of ours to complete. */
void Nap() {
  struct timespec ts = {0, 1000000};
  nanosleep(&ts, nullptr);
}

/*
 * Blocks until at least one CQE is ready, submitting what is pending on the
 * way (one io_uring_enter for both when the kernel takes everything).
 * Returns 0 or -errno; the caller drains and asks again.
 */
int Block(UringContext *ctx) {
  ctx->counters.blockingWaits++;
  if (!ctx->pending.empty() && !ctx->ring_broken) {
    int ret = Flush(ctx, 1);
    /* Taken and waited for; or the ring broke and the pending IOs ran synchronously into the stash. */
    if ((ret > 0 && ctx->pending.empty()) || ctx->ring_broken) return 0;
    /* Refused for now, and nothing of ours in the kernel to wait for: the caller asks again after a nap. */
    if (ret <= 0 && ctx->busy - ctx->routed_busy == ctx->pending.size()) return Nap(), -EAGAIN;
  }
  struct io_uring_cqe *cqe;
  return io_uring_wait_cqe(&ctx->ring, &cqe); /* leaves the CQE for Drain */
}

/* Collects completions until IO (index, generation) is among them; returns how many are in the table. */
uint32_t WaitFor(UringContext *ctx, uint32_t index, uint32_t generation) {
  uint32_t count = Collect(ctx);
  for (;;) {
    const Slot &slot = ctx->slots[index];
    if (!slot.busy || slot.io.generation != generation || !ctx->ring_ready) return count;
    if (slot.routed) {
      /* Its result comes from a thread, not the CQ: hand the kernel what is pending first, then sleep on the threads. */
      Flush(ctx);
      ctx->counters.blockingWaits++;
      ctx->workers.WaitFor(index, generation);
      count = DrainRouted(ctx, ctx->table(), Drain(ctx, ctx->table(), count));
      continue;
    }
    int ret = Block(ctx);
    if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) return count; /* the core asks again */
    count = Drain(ctx, ctx->table(), count);
    if (ctx->stash_count > 0) {
      memcpy(ctx->table() + 3 * static_cast<size_t>(count), ctx->stash.data(), sizeof(int32_t) * 3 * ctx->stash_count);
      count += ctx->stash_count;
      ctx->stash_count = 0;
    }
  }
}

// ---------------------------------------------------------------------------
// Cancelling.
// ---------------------------------------------------------------------------

/*
 * A routed IO that no thread has taken yet is removed from the queue and
 * completes with ECANCELED through the stash (0); one a thread runs
 * completes normally (1).  A thread runs a page-cache IO in microseconds,
 * so there is nothing to interrupt.
 */
int CancelRouted(UringContext *ctx, uint32_t index) {
  ctx->counters.cancelRequests++;
  if (!ctx->workers.Unqueue(index)) return 1;
  FinishSlot(ctx, index, -ECANCELED, ctx->stash.data(), &ctx->stash_count);
  SchedulePrepare(ctx);
  ctx->counters.canceled++;
  ctx->counters.routedCanceled++;
  return 0;
}

/*
 * Submits an IORING_OP_ASYNC_CANCEL for the IO and waits for the cancel's
 * own CQE (it completes at once: it only looks the IO up).  The IO is
 * submitted first if it is still pending.  Completions reaped meanwhile go
 * to the stash, delivered by the prepare handle.  Returns 0 (the IO will
 * complete with -ECANCELED), 1 (too late: it completes normally; or the
 * kernel would not take the request now) or 2 (the kernel cannot cancel).
 */
int CancelIo(UringContext *ctx, uint32_t index, uint32_t generation) {
  const Slot &slot = ctx->slots[index];
  if (!ctx->ring_ready || !slot.busy || slot.io.generation != generation) return 1;
  if (slot.routed) return CancelRouted(ctx, index);
  if (!ctx->cancel_ok || ctx->ring_broken) return 2;
  ctx->counters.cancelRequests++;
  if (slot.pending) Flush(ctx);
  if (slot.pending || ctx->ring_broken || !slot.busy) return 1;
  ctx->cancel_seen = false;
  /* Not taken: nothing of the request stays in the ring (SubmitControl), so no late CQE can confuse a later cancel. */
  if (!SubmitControl(ctx, kCancelTag, UserData(index, generation), 0)) return 1;
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

/*
 * Ends every IO, dropping the completions: after it returns the kernel
 * touches no buffer of the context's IO.  With IO in flight only when the
 * environment is going away (the core waits for every IO before close()),
 * or when a raw caller closes early.  Teardown cancels everything:
 * - pending IOs were never seen by the kernel (no SQE of theirs is in the
 *   ring), and now never will be: they are simply dropped;
 * - IOs the kernel has are cancelled (IO that may never complete on its
 *   own, like a pipe read, ends now), and waited for, so that the kernel is
 *   done with their memory before this returns.
 */
void QuiesceRing(UringContext *ctx) {
  ctx->quiescing = true;
  ctx->stash_count = 0; /* undelivered completions are dropped with the rest */
  /* Routed IO first: its threads are joined, so afterwards only the kernel still owes completions. */
  std::vector<uint32_t> dropped;
  ctx->workers.Stop(&dropped);
  for (uint32_t index : dropped) {
    if (ctx->slots[index].busy && ctx->slots[index].routed) FinishSlot(ctx, index, -ECANCELED, ctx->stash.data(), &ctx->stash_count);
  }
  ctx->stash_count = 0;
  for (uint32_t index : ctx->pending) FinishSlot(ctx, index, -ECANCELED, ctx->stash.data(), &ctx->stash_count);
  ctx->pending.clear();
  bool cancel_sent = !ctx->cancel_ok;
  while (ctx->busy > 0) {
    ctx->stash_count = Drain(ctx, ctx->stash.data(), 0);
    if (ctx->busy == 0) break;
    /* The kernel may refuse the request for a while (ENOMEM): until it takes it, poll instead of blocking on IO that may never end. */
    if (!cancel_sent) cancel_sent = SubmitControl(ctx, kCancelAllTag, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
    struct io_uring_cqe *cqe;
    int ret = cancel_sent ? io_uring_wait_cqe(&ctx->ring, &cqe) : -EAGAIN;
    if (ret < 0 && ret != -EINTR) Nap();
  }
  ctx->stash_count = 0;
}

}  // namespace

const char *const kOpNames[kOpCount] = {"invalid", "read", "readv", "write", "writev", "fsync", "fdatasync", "stat", "truncate", "allocate"};

/* read and write also run as one-vector READV/WRITEV, so those opcodes decide. */
void SupportedOps(const struct io_uring_probe *probe, bool ok[kOpCount]) {
  const int opcodes[kOpCount] = {-1, IORING_OP_READV, IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_WRITEV, IORING_OP_FSYNC,
                                 IORING_OP_FSYNC, IORING_OP_STATX, kOpFtruncate, IORING_OP_FALLOCATE};
  for (int op = 0; op < kOpCount; op++) ok[op] = opcodes[op] >= 0 && HasOpcode(probe, opcodes[op]);
}

// ---------------------------------------------------------------------------
// The method's operations (aio::Context), called by the kit.
// ---------------------------------------------------------------------------

/*
 * The ring now, not at the first IO: a ring created later takes the lowest
 * free fd, which may be the number of an fd the caller just closed, and IO
 * on that stale number would then reach the ring instead of failing with
 * EBADF.  A setup failure is an error here, where the user can see it.
 */
bool UringContext::Start(const aio::ContextArgs &args) {
  Napi::Env env = this->env();
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return aio::ThrowError(env, "AIO_ERR_NATIVE", "no event loop"), false;
  slots.resize(capacity());
  pending.reserve(capacity());
  route_batch.reserve(AIO_SUBMIT_MAX);
  route_results.reserve(capacity());
  stash.resize(3 * static_cast<size_t>(capacity()));
  Napi::Value buffers = args.options.Get("registeredBuffers");
  if (buffers.IsArray()) registered = Napi::Persistent(buffers.As<Napi::Array>());
  napi_value name;
  if (napi_create_string_utf8(env, "aio:io_uring", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, nullptr, name, &async_context) != napi_ok || !InitTimers(this)) {
    Quiesce(false);
    return false;
  }
  int ret = EnsureRing(this);
  if (ret != 0) {
    Quiesce(false);
    if (!env.IsExceptionPending()) aio::ThrowError(env, "AIO_ERR_METHOD_UNAVAILABLE", SetupFailureReason(-ret).c_str());
    return false;
  }
  return true;
}

/* Takes the decoded IOs of a submit call: a batch of 2 or more goes to the kernel at once; a single IO waits for the prepare handle. */
uint32_t UringContext::Submit(aio::SubmitBatch &batch) {
  counters.invalid += batch.invalid;
  bool usable = ring_ready && !ring_broken;
  accepting = 0;
  for (uint32_t i = 0; i < batch.count; i++) {
    if (!batch.valid[i]) continue;
    int disposition = usable ? AcceptIo(this, &batch.ios[i]) : AIO_DISPOSITION_EAGAIN;
    if (disposition != AIO_DISPOSITION_ACCEPTED) aio_io_release(&batch.ios[i]);
    SetDisposition(i, static_cast<enum aio_disposition>(disposition));
  }
  uint32_t accepted = accepting;
  accepting = 0;
  if (!route_batch.empty()) {
    workers.Enqueue(route_batch.data(), static_cast<uint32_t>(route_batch.size()));
    route_batch.clear();
  }
  if (accepted > 0 && !pending.empty() && batch.count > 1) {
    if (Flush(this) > 0) counters.batchEnters++;
  } else if (accepted > 0 && !pending.empty()) {
    SchedulePrepare(this);
  }
  return accepted;
}

/* Submits what is pending and hands over what is ready, without blocking. */
uint32_t UringContext::Poll() {
  if (Flush(this) > 0) counters.deferredFlushes++;
  uint32_t count = Collect(this);
  Completed(count);
  return count;
}

/* Blocks until that IO completed; hands over what is ready. */
uint32_t UringContext::Wait(uint32_t index, uint32_t generation) {
  uint32_t count = WaitFor(this, index, generation);
  Completed(count);
  return count;
}

uint32_t UringContext::Cancel(uint32_t index, uint32_t generation) { return static_cast<uint32_t>(CancelIo(this, index, generation)); }

/*
 * Ends the context (once: close(), the finalizer, or the environment's
 * cleanup hook with `teardown`): waits for IO still in the kernel, frees
 * the ring (which unpins registered buffers and files), stops the eventfd
 * watcher before closing the eventfd, and closes the other libuv handles.
 * The kit then drops its own references (tables, onComplete, the object).
 */
void UringContext::Quiesce(bool teardown) {
  if (ring_ready) {
    QuiesceRing(this);
    io_uring_unregister_eventfd(&ring);
    io_uring_queue_exit(&ring);
    ring_ready = false;
  }
  completions.Stop();
  if (eventfd >= 0) close(eventfd);
  eventfd = -1;
  if (timers != nullptr) CloseTimers(timers);
  timers = nullptr;
  registered.Reset();
  if (async_context != nullptr) napi_async_destroy(env(), async_context);
  async_context = nullptr;
}

/* The counters above plus the ring's current shape. */
void UringContext::Stats(Napi::Object stats) {
  const Counters &c = counters;
  aio::SetCounters(stats, {{"ios", double(c.ios)}, {"enters", double(c.enters)}, {"batchEnters", double(c.batchEnters)},
                           {"deferredFlushes", double(c.deferredFlushes)}, {"cqes", double(c.cqes)}, {"wakeups", double(c.wakeups)},
                           {"deliveries", double(c.deliveries)}, {"blockingWaits", double(c.blockingWaits)},
                           {"unsupported", double(c.unsupported)}, {"invalid", double(c.invalid)}, {"sqFull", double(c.sqFull)},
                           {"asyncFlagged", double(c.asyncFlagged)}, {"fixedBufferIos", double(c.fixedBufferIos)},
                           {"fixedFileIos", double(c.fixedFileIos)}, {"cancelRequests", double(c.cancelRequests)},
                           {"canceled", double(c.canceled)}, {"submitRetries", double(c.submitRetries)}, {"strayCqes", double(c.strayCqes)},
                           {"routed", double(c.routed)}, {"routedDsyncWrites", double(c.routedDsyncWrites)},
                           {"routedCanceled", double(c.routedCanceled)}, {"routeKinds", double(opt.route_kinds)},
                           {"routeThreads", double(workers.threads())}, {"routeErrno", double(workers.start_errno)}});
  /* sqQueued: SQEs published to the kernel and not taken yet: always 0 between calls without SQPOLL (see Settle). */
  aio::SetCounters(stats, {{"ringCreated", ring_ready ? 1.0 : 0.0},
                           {"sqEntries", ring_ready ? double(ring.sq.ring_entries) : 0},
                           {"cqEntries", ring_ready ? double(ring.cq.ring_entries) : 0},
                           {"setupFlags", double(setup_flags_used)},
                           {"setupErrno", double(setup_errno)},
                           {"brokenErrno", double(broken_errno)},
                           {"inFlight", double(open() ? inflight() : 0)},
                           {"sqQueued", ring_ready ? double(*ring.sq.ktail - *ring.sq.khead) : 0},
                           {"registeredBuffers", register_buffers_errno == 0 ? double(ranges.size()) : 0},
                           {"registerBuffersErrno", double(register_buffers_errno)},
                           {"registeredFiles", register_files_errno == 0 ? double(opt.registered_files) : 0},
                           {"registerFilesErrno", double(register_files_errno)}});
}

namespace {

/* create(options, ...): the context's own options; the kit has read maxConcurrency and the tables.  nullptr after throwing. */
aio::Context *CreateUring(Napi::Env env, const aio::ContextArgs &args) {
  Options opt;
  std::vector<BufferRange> ranges;
  if (!DecodeOptions(args.options, &opt) || !DecodeRegisteredBuffers(args.options, &ranges)) return nullptr;
  return new UringContext(opt, std::move(ranges));
}

/*
 * The context behind a context object for forgetFile, which may come after
 * the context was closed (then there is nothing to forget): nullptr if so
 * or after throwing.
 */
UringContext *ContextForFile(Napi::Value value) {
  bool tagged = value.IsObject() && value.As<Napi::Object>().CheckTypeTag(&uring_ops.tag);
  void *data = nullptr;
  if (!tagged || napi_unwrap(value.Env(), value, &data) != napi_ok || data == nullptr) {
    return aio::UnwrapOpen(value, &uring_ops), nullptr; /* throws the kit's usual error */
  }
  UringContext *ctx = static_cast<UringContext *>(static_cast<aio::Context *>(data));
  return ctx->open() ? ctx : nullptr;
}

}  // namespace

/* The kit's tag for io_uring context objects, so a foreign object passed as a context is refused. */
const aio::MethodOps uring_ops = {"io_uring", {0x6a1e3c5b9d0f4a27ULL, 0x8c2b7e19f4d3a605ULL}, CreateUring};

/* forgetFile(context, fd): before the fd is closed, drop what the context remembers about it. */
Napi::Value ForgetFile(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  UringContext *ctx = ContextForFile(info[0]);
  double fd_value;
  if (env.IsExceptionPending() || !aio::ReadInteger(info[1], 0, INT_MAX, "fd must be a file descriptor", &fd_value)) return Napi::Value();
  if (ctx == nullptr) return env.Undefined();
  uint32_t fd = static_cast<uint32_t>(fd_value);
  /* An IO still naming the fd (or its fixed slot) must reach the kernel before the fd goes. */
  Flush(ctx);
  if (fd >= ctx->fds.size()) return env.Undefined();
  FdInfo &fdinfo = ctx->fds[fd];
  /* If the kernel refused it for now, it must not name the slot, which may soon hold another file: it names the fd. */
  for (uint32_t index : ctx->pending) {
    Slot &slot = ctx->slots[index];
    if (slot.io.file == fd && (slot.sqe_flags & IOSQE_FIXED_FILE) != 0) {
      slot.sqe_flags &= static_cast<uint8_t>(~IOSQE_FIXED_FILE);
      slot.sqe_fd = static_cast<int32_t>(fd);
    }
  }
  if (fdinfo.fixed >= 0 && ctx->ring_ready) {
    int none = -1;
    io_uring_register_files_update(&ctx->ring, static_cast<unsigned>(fdinfo.fixed), &none, 1);
    ctx->free_file_slots.push_back(fdinfo.fixed);
  }
  fdinfo = FdInfo();
  return env.Undefined();
}

/* injectEnterFaults(context, faults): test hook, see UringContext::enter_faults. */
Napi::Value InjectEnterFaults(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  aio::Context *context = aio::UnwrapOpen(info[0], &uring_ops);
  if (context == nullptr) return Napi::Value();
  if (!info[1].IsArray()) return aio::ThrowTypeError(env, "faults must be an array of integers"), Napi::Value();
  Napi::Array faults = info[1].As<Napi::Array>();
  UringContext *ctx = static_cast<UringContext *>(context);
  for (uint32_t i = 0; i < faults.Length(); i++) {
    double fault;
    if (!aio::ReadInteger(faults.Get(i), -1024, 4095, "faults must be an array of integers", &fault)) return Napi::Value();
    ctx->enter_faults.push_back(static_cast<int32_t>(fault));
  }
  return env.Undefined();
}

}  // namespace aio_uring
