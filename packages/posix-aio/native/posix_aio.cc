/*
 * posix_aio.cc: the IO path of a context: a batch from JavaScript becomes
 * aiocbs in the table, goes to the OS in one lio_listio(LIO_NOWAIT) (plus
 * one aio_fsync per sync), and each IO comes back, once all its aiocbs are
 * reaped, as one completion in the kit's queue.  See posix_aio.h for who
 * may touch what.
 */
#include "posix_aio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

namespace aio_posix {

namespace {

/* One IO of the batch being submitted. */
struct Plan {
  aio_io *io;          /* decoded by the kit; moved into the head slot once accepted */
  int32_t head;        /* its head slot, or -1 once a disposition is decided */
  int32_t disposition; /* enum aio_disposition */
};

/* Tallies of a submit call, added to the counters under the lock. */
struct Tally {
  uint32_t unsupported = 0, queue_full = 0, eagain = 0, split = 0, members_sync = 0;
  uint32_t lio_calls = 0, single_calls = 0, fsync_calls = 0, queued = 0;
};

Slot *SlotOf(struct aiocb *cb) {
  /* cb is the first member of Slot, which is standard-layout. */
  return reinterpret_cast<Slot *>(cb);
}

bool IsVectored(int32_t op) { return op == AIO_OP_READV || op == AIO_OP_WRITEV; }
bool IsSync(int32_t op) { return op == AIO_OP_FSYNC || op == AIO_OP_FDATASYNC; }
bool IsRead(int32_t op) { return op == AIO_OP_READ || op == AIO_OP_READV; }

#ifdef O_DIRECT
/* Whether a split O_DIRECT IO keeps the alignment preadv would demand of it. */
bool AlignedForDirect(const aio_io &io) {
  const uint64_t mask = 4096 - 1;
  if ((io.offset & mask) != 0) return false;
  for (uint32_t k = 0; k < io.iovcnt; k++) {
    if ((reinterpret_cast<uintptr_t>(io.iov[k].base) & mask) != 0 || (io.iov[k].len & mask) != 0) return false;
  }
  return true;
}
#endif

/*
 * How many aiocbs the IO takes, or 0 if it must run synchronously: POSIX
 * has no vectored aio call, so a readv/writev becomes one aiocb per buffer,
 * up to `max_vectored` buffers.  On an O_DIRECT file that only matches
 * preadv/pwritev when every piece is aligned (preadv fails the whole IO
 * with EINVAL otherwise, a split IO would return a partial count), so an
 * unaligned one runs synchronously and gets the kernel's own answer.
 */
uint32_t MembersFor(const aio_io &io, const LaneSet *set, uint32_t max_vectored) {
  if (io.op == AIO_OP_READ || io.op == AIO_OP_WRITE || IsSync(io.op)) return 1;
  if (!IsVectored(io.op) || io.iovcnt == 0) return 0;
  if (io.iovcnt == 1) return 1;
  if (io.iovcnt > max_vectored) return 0;
#ifdef O_DIRECT
  if (set->oflags >= 0 && (set->oflags & O_DIRECT) != 0 && !AlignedForDirect(io)) return 0;
#endif
  return io.iovcnt;
}

/* Takes `members` free slots, links them from the head and points them at a lane. */
int32_t TakeSlots(Context *c, Plan *plan, LaneSet *set, uint32_t members) {
  /* Every member goes to the same lane: glibc runs one fd's requests in
     submission order, so a split IO is transferred in order, as with preadv. */
  int32_t lane = c->lanes.Acquire(set, c->opt.lanes, members);
  int32_t head = -1, prev = -1;
  for (uint32_t k = 0; k < members; k++) {
    int32_t id = c->free_slots.back();
    c->free_slots.pop_back();
    Slot &s = c->slots[id];
    s.state = SlotState::kFilling;
    s.reaped = false;
    s.next = -1;
    s.list_pos = -1;
    s.lanes = set;
    s.lane = lane;
    if (prev >= 0) c->slots[prev].next = id;
    if (head < 0) head = id;
    s.head = head;
    prev = id;
  }
  Slot &h = c->slots[head];
  aio_io_move(&h.io, plan->io); /* the head slot owns the buffer list now */
  h.members = members;
  h.pending = members;
  return head;
}

/* Under the lock: gives the IO its slots and lane, or decides its disposition. */
void Allocate(Context *c, Plan *plan, Tally *t) {
  const aio_io &io = *plan->io;
  LaneSet *set = io.file >= 0 && io.file <= INT_MAX ? c->lanes.Get(static_cast<int>(io.file)) : nullptr;
  uint32_t members = set != nullptr ? MembersFor(io, set, c->opt.max_vectored) : 0;
  if (c->head_of[io.index] >= 0) members = 0; /* the handle has an IO in flight: not from the core */
  if (members == 0) {
    plan->disposition = AIO_DISPOSITION_UNSUPPORTED;
    t->unsupported++;
  } else if (c->free_slots.size() < members) {
    plan->disposition = AIO_DISPOSITION_QUEUE_FULL;
    t->queue_full++;
  } else {
    plan->head = TakeSlots(c, plan, set, members);
    c->head_of[io.index] = plan->head;
    if (members > 1) t->split++;
    return;
  }
  aio_io_release(plan->io);
}

/* Fills the aiocbs of one IO (no lock: the reaper ignores kFilling slots). */
void FillAiocbs(Context *c, int32_t head) {
  const aio_io &io = c->slots[head].io;
  off_t offset = static_cast<off_t>(io.offset);
  uint32_t k = 0;
  for (int32_t id = head; id >= 0; id = c->slots[id].next, k++) {
    Slot &m = c->slots[id];
    memset(&m.cb, 0, sizeof m.cb);
    m.cb.aio_fildes = m.lanes->lane_fd[m.lane];
    m.cb.aio_sigevent.sigev_notify = SIGEV_NONE;
    m.result = 0;
    if (IsSync(io.op)) continue;
    m.cb.aio_buf = io.iov[k].base;
    m.cb.aio_nbytes = io.iov[k].len;
    m.cb.aio_offset = offset;
    m.cb.aio_lio_opcode = IsRead(io.op) ? LIO_READ : LIO_WRITE;
    offset += static_cast<off_t>(io.iov[k].len);
#ifdef __GLIBC__
    /* glibc leaves the error code of a request it could not queue as it
       was; EAGAIN makes such a request read as "not queued, retry". */
    m.cb.__error_code = EAGAIN;
#endif
  }
}

/* An aiocb the OS did not take: it keeps `err` as its result for now. */
void MarkRefused(Slot *s, int err) {
  s->reaped = true;
  s->result = -(err > 0 ? err : EIO);
}

/*
 * After a failed lio_listio some requests may be queued and others not.
 * EINPROGRESS (or a result already) means queued; EAGAIN, or -1 for an
 * aiocb the OS does not know, means it was never taken.
 */
void ClassifyAfterListioFailure(struct aiocb *cb) {
  int err = aio_error(cb);
  if (err == -1) err = EAGAIN;
  if (err == EAGAIN || err == ENOMEM) MarkRefused(SlotOf(cb), err);
}

long ListioChunk() {
  static const long chunk = [] {
    long max = sysconf(_SC_AIO_LISTIO_MAX);
    return max <= 0 || max > 1024 ? 1024L : max;
  }();
  return chunk;
}

/* Queues the reads and writes of the batch: one aio_read/aio_write, or lio_listio calls. */
void QueueReadWrite(std::vector<struct aiocb *> &list, Tally *t) {
  if (list.size() == 1) {
    struct aiocb *cb = list[0];
    int rc = cb->aio_lio_opcode == LIO_READ ? aio_read(cb) : aio_write(cb);
    if (rc != 0) MarkRefused(SlotOf(cb), errno);
    t->single_calls++;
    return;
  }
  const long chunk = ListioChunk();
  for (size_t at = 0; at < list.size(); at += static_cast<size_t>(chunk)) {
    int n = static_cast<int>(list.size() - at < static_cast<size_t>(chunk) ? list.size() - at : static_cast<size_t>(chunk));
    t->lio_calls++;
    if (lio_listio(LIO_NOWAIT, list.data() + at, n, nullptr) == 0) continue;
    for (int k = 0; k < n; k++) ClassifyAfterListioFailure(list[at + k]);
  }
}

void QueueSync(Slot *s, int32_t op, Tally *t) {
  t->fsync_calls++;
  /* O_DSYNC asks for fdatasync semantics, O_SYNC for fsync. */
  if (aio_fsync(op == AIO_OP_FDATASYNC ? O_DSYNC : O_SYNC, &s->cb) != 0) MarkRefused(s, errno);
}

/* Runs one refused member of a split IO here, so the IO keeps its other, queued members. */
void RunMemberNow(Slot *m, int32_t op, Tally *t) {
  aio_io one;
  memset(&one, 0, sizeof one);
  one.op = IsRead(op) ? AIO_OP_READ : AIO_OP_WRITE;
  one.file = m->cb.aio_fildes;
  one.offset = static_cast<uint64_t>(m->cb.aio_offset);
  one.length = m->cb.aio_nbytes;
  one.iovcnt = 1;
  one.iov = one.inline_iov;
  one.inline_iov[0].base = const_cast<void *>(m->cb.aio_buf);
  one.inline_iov[0].len = m->cb.aio_nbytes;
  m->result = aio_io_execute(&one);
  t->members_sync++;
}

/* Counts what the OS took of an IO; runs refused members of a partly queued split IO. */
uint32_t SettleRefusals(Context *c, int32_t head, bool *retry, Tally *t) {
  uint32_t queued = 0;
  *retry = true;
  for (int32_t id = head; id >= 0; id = c->slots[id].next) {
    const Slot &m = c->slots[id];
    if (!m.reaped) queued++;
    else if (m.result != -EAGAIN && m.result != -ENOMEM) *retry = false;
  }
  if (queued == 0) return 0;
  for (int32_t id = head; id >= 0; id = c->slots[id].next) {
    if (c->slots[id].reaped) RunMemberNow(&c->slots[id], c->slots[head].io.op, t);
  }
  return queued;
}

void AddTally(Counters *n, const Tally &t) {
  n->unsupported += t.unsupported;
  n->queue_full += t.queue_full;
  n->eagain += t.eagain;
  n->vectored_split += t.split;
  n->members_sync += t.members_sync;
  n->lio_calls += t.lio_calls;
  n->single_calls += t.single_calls;
  n->fsync_calls += t.fsync_calls;
  n->aiocbs_queued += t.queued;
}

/* Frees an IO's slots, lanes and vector (no completion: it was never accepted, or it completed). */
void FreeIo(Context *c, int32_t head) {
  aio_io_release(&c->slots[head].io);
  for (int32_t id = head; id >= 0;) {
    int32_t next = c->slots[id].next;
    ReleaseSlot(c, id);
    id = next;
  }
}

/* Under the lock: one IO is in flight (its queued aiocbs go to the reaper), or goes back to the core. */
bool PublishIo(Context *c, Plan *plan, Tally *t) {
  bool retry = false;
  uint32_t queued = SettleRefusals(c, plan->head, &retry, t);
  if (queued == 0) {
    plan->disposition = retry ? AIO_DISPOSITION_EAGAIN : AIO_DISPOSITION_UNSUPPORTED;
    if (retry) t->eagain++;
    else t->unsupported++;
    c->head_of[c->slots[plan->head].io.index] = -1;
    FreeIo(c, plan->head);
    return false;
  }
  Slot &h = c->slots[plan->head];
  for (int32_t id = plan->head; id >= 0; id = c->slots[id].next) {
    Slot &m = c->slots[id];
    if (m.reaped) {
      h.pending--;
      continue;
    }
    m.state = SlotState::kInFlight;
    m.list_pos = static_cast<int32_t>(c->inflight.size());
    c->inflight.push_back(id); /* capacity reserved for the whole table */
  }
  t->queued += queued;
  plan->disposition = AIO_DISPOSITION_ACCEPTED;
  return true;
}

}  // namespace

void ReleaseSlot(Context *c, int32_t id) {
  Slot &s = c->slots[id];
  c->lanes.Release(s.lanes, s.lane);
  s.lanes = nullptr;
  s.state = SlotState::kFree;
  s.next = -1;
  c->free_slots.push_back(id); /* capacity reserved for the whole table */
}

namespace {

/* Under the lock: slots and a lane for each valid IO of the batch, or its disposition. */
void AllocateBatch(Context *c, aio::SubmitBatch &batch, Plan *plans, Tally *t) {
  aio_mutex_lock(&c->lock);
  for (uint32_t i = 0; i < batch.count; i++) {
    plans[i] = {&batch.ios[i], -1, AIO_DISPOSITION_UNSUPPORTED};
    if (batch.valid[i]) Allocate(c, &plans[i], t);
  }
  aio_mutex_unlock(&c->lock);
}

/* Without the lock (the reaper ignores these slots until published): fills the aiocbs and hands them to the OS. */
void QueueBatch(Context *c, const Plan *plans, uint32_t count, Tally *t) {
  c->submit_list.clear();
  for (uint32_t i = 0; i < count; i++) {
    if (plans[i].head < 0) continue;
    FillAiocbs(c, plans[i].head);
    if (IsSync(plans[i].io->op)) continue;
    for (int32_t id = plans[i].head; id >= 0; id = c->slots[id].next) c->submit_list.push_back(&c->slots[id].cb);
  }
  if (!c->submit_list.empty()) QueueReadWrite(c->submit_list, t);
  for (uint32_t i = 0; i < count; i++) {
    if (plans[i].head >= 0 && IsSync(plans[i].io->op)) QueueSync(&c->slots[plans[i].head], plans[i].io->op, t);
  }
}

/* Under the lock: what the OS took goes to the reaper, the rest back to the core.  Returns how many IOs were accepted. */
uint32_t PublishBatch(Context *c, Plan *plans, uint32_t count, Tally *t) {
  uint32_t accepted = 0;
  aio_mutex_lock(&c->lock);
  for (uint32_t i = 0; i < count; i++) {
    if (plans[i].head >= 0 && PublishIo(c, &plans[i], t)) accepted++;
  }
  AddTally(&c->n, *t);
  c->n.ios_accepted += accepted;
  if (accepted > 0) WakeReaper(c);
  aio_mutex_unlock(&c->lock);
  return accepted;
}

}  // namespace

uint32_t Context::Submit(aio::SubmitBatch &batch) {
  Plan plans[AIO_SUBMIT_MAX];
  Tally t;
  /* The kit decoded the batch on the JS thread and set the disposition of
     every IO it could not decode (UNSUPPORTED: the core runs it). */
  t.unsupported = batch.invalid;
  AllocateBatch(this, batch, plans, &t);
  QueueBatch(this, plans, batch.count, &t);
  uint32_t accepted = PublishBatch(this, plans, batch.count, &t);
  for (uint32_t i = 0; i < batch.count; i++) {
    if (batch.valid[i]) SetDisposition(i, static_cast<enum aio_disposition>(plans[i].disposition));
  }
  /* The kit counts the accepted IOs in flight before any completion is delivered. */
  return accepted;
}

/*
 * The result of a whole IO from its aiocbs, the way preadv/pwritev count:
 * bytes up to the first short or failed piece; an error only if nothing
 * was transferred before it.
 */
static int32_t IoResult(const Context *c, int32_t head) {
  int64_t total = 0;
  for (int32_t id = head; id >= 0; id = c->slots[id].next) {
    const Slot &m = c->slots[id];
    if (m.result < 0) return total > 0 ? static_cast<int32_t>(total) : m.result;
    total += m.result;
    if (static_cast<size_t>(m.result) < m.cb.aio_nbytes) break;
  }
  return total > INT32_MAX ? INT32_MAX : static_cast<int32_t>(total);
}

void FinishIo(Context *c, int32_t head) {
  Slot &h = c->slots[head];
  int32_t result = IoResult(c, head);
  int32_t index = h.io.index;
  uint32_t generation = h.io.generation;
  c->head_of[index] = -1;
  FreeIo(c, head);
  c->n.ios_completed++;
  /* Pushed under the lock, so an IO is always either in the table or in
     the queue: Wait relies on that. */
  c->completions.Push(index, generation, result);
}

uint32_t Context::Cancel(uint32_t index, uint32_t generation) {
  Context *c = this;
  int32_t members[kMaxVectoredLimit];
  uint32_t count = 0, canceled = 0;
  aio_mutex_lock(&c->lock);
  int32_t head = c->head_of[index];
  if (head < 0 || c->slots[head].io.generation != generation) {
    aio_mutex_unlock(&c->lock);
    return 1; /* not in flight here (already completed): nothing to cancel */
  }
  c->n.cancel_requests++;
  for (int32_t id = head; id >= 0 && count < kMaxVectoredLimit; id = c->slots[id].next) members[count++] = id;
  /* Last piece first: cancelling the first queued piece of a split IO would
     let glibc start the next one. */
  for (uint32_t k = count; k-- > 0;) {
    Slot &m = c->slots[members[k]];
    if (m.state != SlotState::kInFlight) continue; /* reaped already */
    if (aio_cancel(m.cb.aio_fildes, &m.cb) == AIO_CANCELED) canceled++;
  }
  if (canceled == count) c->n.canceled++;
  aio_mutex_unlock(&c->lock);
  /* AIO_CANCELED: the reaper delivers -ECANCELED.  Otherwise the IO (or
     part of a split one) completes normally and is reported as it went. */
  return canceled == count ? 0 : 1;
}

/* What wait() blocks on: the IO is in flight (it has a head slot) or was
   finished and not drained yet.  Both are checked under the lock, which the
   reaper holds while it clears the head and pushes, so no IO slips between
   them.  An IO that is neither was delivered already (or never existed):
   the kit drains instead of blocking for ever. */
bool Context::Holds(uint32_t index, uint32_t generation) {
  aio_mutex_lock(&lock);
  int32_t head = head_of[index];
  bool held = (head >= 0 && slots[head].io.generation == generation) || completions.Contains(index, generation);
  aio_mutex_unlock(&lock);
  return held;
}

}  // namespace aio_posix
