/*
 * context.cc: a posix_aio context on the kit (aio/kit.hh): its options,
 * what it takes at Start and gives back at Quiesce, its counters, and the
 * addon's functions of its own (forgetFile, doorbell, allocateSync).
 *
 * The kit does the rest the same way for every backend: the context object
 * (type-tagged, so a call with any other object throws instead of reading
 * foreign memory), the reference to it that is strong only while IO is in
 * flight (so an idle context that JavaScript drops is collected, and its
 * finalizer closes it), the environment's cleanup hook, argument decoding
 * and completion delivery.  What this file must keep true: Quiesce returns
 * only once no aiocb of the context is left with the OS.  Their buffers
 * are JavaScript memory that the core (and the kit's strong reference)
 * keeps alive until then; at an environment teardown the kit's hook runs
 * while the JS heap, and so every such buffer, is still there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <new>

#include "posix_aio.h"
/* allocate: the thread pool's file_ops.c, which this addon compiles too (build.json). */
#include "../../threadpool/native/file_ops.h"

namespace aio_posix {

namespace {

/* The defaults follow what each platform's aio is (see README.md, "Platforms"). */
Options DefaultOptions() {
  Options opt;
#if defined(__GLIBC__)
  opt.lanes = 8;
  opt.doorbell = DoorbellMode::kCancel;
#elif defined(__APPLE__)
  opt.doorbell = DoorbellMode::kTimeout;
#else
  opt.doorbell = DoorbellMode::kPipe;
#endif
  return opt;
}

bool ReadDoorbellOption(Napi::Object options, DoorbellMode *mode) {
  Napi::Value value = options.Get("doorbell");
  if (options.Env().IsExceptionPending()) return false; /* a throwing getter */
  if (value.IsUndefined()) return true;
  if (!value.IsString() || !ParseDoorbellMode(value.As<Napi::String>().Utf8Value().c_str(), mode)) {
    aio::ThrowTypeError(options.Env(), "options.doorbell must be 'cancel', 'pipe' or 'timeout'");
    return false;
  }
  return true;
}

/* The backend's own options (the kit read maxConcurrency); false after throwing. */
bool ReadOptions(const aio::ContextArgs &args, Options *opt) {
  *opt = DefaultOptions();
  double table = 0, lanes = opt->lanes, vectored = opt->max_vectored, poll = opt->poll_ms;
  if (!aio::ReadOption(args.options, "tableSize", 1, kMaxTableSize, "options.tableSize must be an integer from 1 to 2048", &table) ||
      !aio::ReadOption(args.options, "lanes", 1, kMaxLanes, "options.lanes must be an integer from 1 to 64", &lanes) ||
      !aio::ReadOption(args.options, "maxVectored", 1, kMaxVectoredLimit, "options.maxVectored must be an integer from 1 to 64", &vectored) ||
      !aio::ReadOption(args.options, "pollMs", 1, 1000, "options.pollMs must be an integer from 1 to 1000", &poll) ||
      !ReadDoorbellOption(args.options, &opt->doorbell)) {
    return false;
  }
  opt->max_concurrency = args.capacity;
  /* Room for every handle's IO plus some split readv/writev pieces. */
  uint32_t table_size = table > 0 ? static_cast<uint32_t>(table) : opt->max_concurrency * 2;
  long os_max = sysconf(_SC_AIO_MAX);
  if (os_max > 0 && table_size > static_cast<uint64_t>(os_max)) table_size = static_cast<uint32_t>(os_max);
  opt->table_size = table_size < kMaxTableSize ? table_size : kMaxTableSize;
  opt->lanes = static_cast<int>(lanes);
  opt->max_vectored = static_cast<uint32_t>(vectored);
  opt->poll_ms = static_cast<int>(poll);
  return true;
}

aio::Context *CreateContext(Napi::Env env, const aio::ContextArgs &args) {
  Options opt;
  if (!ReadOptions(args, &opt)) return nullptr;
  Context *c = new (std::nothrow) Context(opt);
  if (c == nullptr) aio::ThrowError(env, "ENOMEM", "cannot allocate a posix_aio context");
  return c;
}

/* The slot table and the lists, allocated once so the IO path never allocates. */
bool AllocateTables(Context *c) {
  c->nslots = c->opt.table_size;
  c->slots = static_cast<Slot *>(calloc(c->nslots, sizeof(Slot)));
  if (c->slots == nullptr) return false;
  try {
    c->free_slots.reserve(c->nslots);
    for (uint32_t i = c->nslots; i-- > 0;) c->free_slots.push_back(static_cast<int32_t>(i));
    c->inflight.reserve(c->nslots);
    c->submit_list.reserve(c->nslots);
    c->suspend_list.reserve(c->nslots + 1);
    c->head_of.assign(c->opt.max_concurrency, -1);
  } catch (const std::bad_alloc &) {
    return false;
  }
  for (uint32_t i = 0; i < c->nslots; i++) c->slots[i].state = SlotState::kFree;
  return true;
}

/* The open posix_aio context of a call's first argument (a missing one is undefined), or nullptr after throwing. */
Context *ContextOf(const Napi::CallbackInfo &info) { return static_cast<Context *>(aio::UnwrapOpen(info[0], &kMethodOps)); }

}  // namespace

/* A random tag: no other addon's object passes for a posix_aio context. */
const aio::MethodOps kMethodOps = {"posix_aio", {0x6b1f0c3e5a2d4e97ULL, 0x93c4e2a1d07b5f68ULL}, CreateContext};

/* Freed by the kit after Quiesce (or after a failed Start): nothing runs any more. */
Context::~Context() {
  aio_cond_destroy(&wake);
  aio_mutex_destroy(&lock);
  free(slots);
}

bool Context::Start(const aio::ContextArgs &args) {
  if (!AllocateTables(this)) {
    aio::ThrowError(env(), "ENOMEM", "cannot allocate the posix_aio tables");
    return false;
  }
  if (!completions.Init(this, "aio:posix_aio")) return false;
  doorbell.Open(opt.doorbell, opt.poll_ms, doorbell_note, sizeof doorbell_note);
  int err = StartReaper(this);
  if (err != 0) {
    doorbell.Close();
    completions.Destroy();
    char message[128];
    snprintf(message, sizeof message, "cannot start the posix_aio reaper thread: %s", strerror(err));
    aio::ThrowError(env(), "AIO_ERR_NATIVE", message);
    return false;
  }
  return true;
}

/*
 * Stops everything the context runs.  Returns after the reaper has seen the
 * last aiocb complete, so nothing of the OS refers to the context or to a
 * JS buffer any more.  At a teardown, what is still queued is cancelled and
 * what runs is waited for; its completions are pushed but never delivered.
 */
void Context::Quiesce(bool teardown) {
  StopReaper(this, teardown);
  doorbell.Close();
  lanes.CloseAll();
  completions.Destroy();
}

void Context::Stats(Napi::Object stats) {
  aio_mutex_lock(&lock);
  Counters counts = n;
  LaneStats lane = lanes.stats();
  DoorbellStats bell = doorbell.stats();
  double in_flight = static_cast<double>(inflight.size());
  double mode = static_cast<double>(static_cast<int32_t>(doorbell.mode()));
  aio_mutex_unlock(&lock);
  aio::SetCounters(stats, {
                              {"iosAccepted", double(counts.ios_accepted)},
                              {"iosCompleted", double(counts.ios_completed)},
                              {"aiocbsQueued", double(counts.aiocbs_queued)},
                              {"aiocbsInFlight", in_flight},
                              {"tableSize", double(nslots)},
                              {"lioListioCalls", double(counts.lio_calls)},
                              {"singleCalls", double(counts.single_calls)},
                              {"aioFsyncCalls", double(counts.fsync_calls)},
                              {"queueFull", double(counts.queue_full)},
                              {"eagain", double(counts.eagain)},
                              {"unsupported", double(counts.unsupported)},
                              {"vectoredSplit", double(counts.vectored_split)},
                              {"splitPiecesRunSync", double(counts.members_sync)},
                              {"cancelRequests", double(counts.cancel_requests)},
                              {"canceled", double(counts.canceled)},
                              {"reaperWakeups", double(counts.suspends)},
                              {"reaperIdleWaits", double(counts.idle_waits)},
                              {"doorbellRings", double(bell.rings)},
                              {"doorbellFallbacks", double(bell.rearm_failed)},
                              {"doorbellMode", mode},
                              {"lanesMax", double(opt.lanes)},
                              {"lanesOpened", double(lane.opened)},
                              {"lanesOpen", double(lane.open_now)},
                              {"laneDupFailed", double(lane.dup_failed)},
                          });
}

/* forgetFile(context, fd): the core is closing the file; its lanes (dups) go. */
Napi::Value ForgetFile(const Napi::CallbackInfo &info) {
  Context *c = ContextOf(info);
  double fd = 0;
  if (c == nullptr || !aio::ReadInteger(info[1], -1, 2147483647.0, "fd must be an integer from -1 to 2^31-1", &fd)) return Napi::Value();
  aio_mutex_lock(&c->lock);
  c->lanes.Forget(static_cast<int>(fd));
  aio_mutex_unlock(&c->lock);
  return Napi::Value();
}

/*
 * allocateSync(fd, offset, length, keepSize): the core's synchronous path
 * for `allocate` (POSIX aio has no allocation request).  node:fs has no
 * fallocate, so without this the core could only extend the file with
 * truncate ('extended'); here the blocks are really reserved.  Runs on the
 * calling thread, like the core's other synchronous IO; 0 or a negative
 * errno (EOPNOTSUPP where the filesystem or platform cannot).
 */
Napi::Value AllocateSync(const Napi::CallbackInfo &info) {
  double fd = 0, offset = 0, length = 0;
  const double max_safe = 9007199254740991.0;
  if (!aio::ReadInteger(info[0], -1, 2147483647.0, "fd must be an integer from -1 to 2^31-1", &fd) ||
      !aio::ReadInteger(info[1], 0, max_safe, "offset must be a non-negative safe integer", &offset) ||
      !aio::ReadInteger(info[2], 0, max_safe - offset, "length must be a non-negative safe integer, offset + length too", &length)) {
    return Napi::Value();
  }
  bool keep_size = info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  int32_t result = aio_file_allocate(static_cast<int64_t>(fd), static_cast<uint64_t>(offset), static_cast<uint64_t>(length), keep_size);
  return Napi::Number::New(info.Env(), result);
}

/* doorbell(context): the mode in use, and why a stronger one was refused. */
Napi::Value DoorbellInfo(const Napi::CallbackInfo &info) {
  Context *c = ContextOf(info);
  if (c == nullptr) return Napi::Value();
  Napi::Env env = info.Env();
  aio_mutex_lock(&c->lock);
  DoorbellMode mode = c->doorbell.mode();
  aio_mutex_unlock(&c->lock);
  Napi::Object out = Napi::Object::New(env);
  out.Set("mode", Napi::String::New(env, DoorbellModeName(mode)));
  out.Set("note", Napi::String::New(env, c->doorbell_note)); /* written once, at Start */
  return out;
}

}  // namespace aio_posix
