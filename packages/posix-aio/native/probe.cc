/*
 * probe.cc: the process-wide aio configuration and the live probe.
 *
 * glibc sizes its aio machinery once per process: aio_init() is honoured
 * only before the first request (later calls change nothing but the idle
 * time).  The addon applies it when it is first loaded, from environment
 * variables, the way libuv reads UV_THREADPOOL_SIZE:
 *   AIO_POSIX_AIO_THREADS    aio_threads: helper threads at most (glibc default 20)
 *   AIO_POSIX_AIO_NUM        aio_num: request records allocated up front (default 64)
 *   AIO_POSIX_AIO_IDLE_TIME  aio_idle_time: seconds an idle helper lingers (default 1)
 * and then sets up the doorbell's anchor (the process's first request).
 *
 * The probe runs real IO: a write, an fdatasync, and a read of two pieces
 * with lio_listio, on an unlinked temporary file, and checks the bytes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <new>
#include <string>

#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

#include "posix_aio.h"

namespace aio_posix {

namespace {

#ifdef __GLIBC__
struct ProcessSettings {
  int aio_threads = 0; /* what aio_init was given */
  int aio_num = 0;
  int aio_idle_time = 0;
};

ProcessSettings g_settings;

int EnvInt(const char *name, int fallback, int min, int max) {
  const char *text = getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char *end = nullptr;
  long value = strtol(text, &end, 10);
  if (*end != '\0' || value < min || value > max) return fallback;
  return static_cast<int>(value);
}
#endif

pthread_once_t g_configure_once = PTHREAD_ONCE_INIT;

/*
 * Keeps this addon mapped until the process exits.  Node dlclose()s an
 * addon when the worker thread that loaded it ends; the doorbell anchor's
 * aiocb lives in this image and stays queued in glibc for the life of the
 * process, so unmapping the image would leave glibc with a dangling aiocb
 * (and a second anchor after a reload).  RTLD_NODELETE on our own handle
 * makes every later dlclose a no-op.
 */
void PinAddon() {
  Dl_info self;
  if (dladdr(reinterpret_cast<void *>(&PinAddon), &self) == 0 || self.dli_fname == nullptr) return;
  void *handle = dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
  (void)handle; /* deliberately never closed */
}

void ConfigureOnce() {
  PinAddon();
#ifdef __GLIBC__
  g_settings.aio_threads = EnvInt("AIO_POSIX_AIO_THREADS", 20, 1, 1024);
  g_settings.aio_num = EnvInt("AIO_POSIX_AIO_NUM", 64, 32, 65536);
  g_settings.aio_idle_time = EnvInt("AIO_POSIX_AIO_IDLE_TIME", 1, 1, 3600);
  struct aioinit init;
  memset(&init, 0, sizeof init);
  init.aio_threads = g_settings.aio_threads;
  init.aio_num = g_settings.aio_num;
  init.aio_idle_time = g_settings.aio_idle_time;
  aio_init(&init);
#endif
  DoorbellInitProcess();
}

const char *ErrnoName(int err) {
  switch (err) {
    case ENOSYS: return "ENOSYS";
    case EAGAIN: return "EAGAIN";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case EINVAL: return "EINVAL";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENOTSUP: return "ENOTSUP";
    default: return "EIO";
  }
}

/*
 * The aiocbs and buffers of one probe.  On the heap, and leaked if an IO
 * does not finish in time: the OS may still write into them.
 */
struct ProbeIo {
  struct aiocb cb[2];
  char written[4096];
  char read_back[4096];
};

/* Waits until the aiocbs are done (at most 5 s).  Returns 0 or ETIMEDOUT. */
int WaitDone(struct aiocb *cbs, int n) {
  for (int round = 0; round < 500; round++) {
    /* Only the unfinished ones: aio_suspend returns at once if any listed aiocb is done. */
    const struct aiocb *list[2];
    int busy = 0;
    for (int i = 0; i < n; i++) {
      if (aio_error(&cbs[i]) == EINPROGRESS) list[busy++] = &cbs[i];
    }
    if (busy == 0) return 0;
    struct timespec limit = {0, 10000000L};
    aio_suspend(list, busy, &limit);
  }
  return ETIMEDOUT;
}

void Setup(struct aiocb *cb, int fd, void *buf, size_t n, off_t offset, int opcode) {
  memset(cb, 0, sizeof *cb);
  cb->aio_fildes = fd;
  cb->aio_buf = buf;
  cb->aio_nbytes = n;
  cb->aio_offset = offset;
  cb->aio_lio_opcode = opcode;
  cb->aio_sigevent.sigev_notify = SIGEV_NONE;
}

/* Returns 0, or an errno with `step` naming what failed. */
int RunProbe(int fd, ProbeIo *p, const char **step) {
  for (size_t i = 0; i < sizeof p->written; i++) p->written[i] = static_cast<char>(i * 7 + 3);
  Setup(&p->cb[0], fd, p->written, sizeof p->written, 0, LIO_WRITE);
  *step = "aio_write";
  if (aio_write(&p->cb[0]) != 0) return errno;
  if (WaitDone(p->cb, 1) != 0) return ETIMEDOUT;
  if (aio_return(&p->cb[0]) != static_cast<ssize_t>(sizeof p->written)) return aio_error(&p->cb[0]) > 0 ? aio_error(&p->cb[0]) : EIO;
  *step = "aio_fsync(O_DSYNC)";
  Setup(&p->cb[0], fd, nullptr, 0, 0, LIO_NOP);
  if (aio_fsync(O_DSYNC, &p->cb[0]) != 0) return errno;
  if (WaitDone(p->cb, 1) != 0) return ETIMEDOUT;
  if (aio_return(&p->cb[0]) != 0) return aio_error(&p->cb[0]) > 0 ? aio_error(&p->cb[0]) : EIO;
  *step = "lio_listio(LIO_NOWAIT)";
  Setup(&p->cb[0], fd, p->read_back, 2048, 0, LIO_READ);
  Setup(&p->cb[1], fd, p->read_back + 2048, 2048, 2048, LIO_READ);
  struct aiocb *list[2] = {&p->cb[0], &p->cb[1]};
  if (lio_listio(LIO_NOWAIT, list, 2, nullptr) != 0) return errno;
  if (WaitDone(p->cb, 2) != 0) return ETIMEDOUT;
  bool full = aio_return(&p->cb[0]) == 2048 && aio_return(&p->cb[1]) == 2048;
  *step = "reading back what was written";
  return full && memcmp(p->written, p->read_back, sizeof p->written) == 0 ? 0 : EIO;
}

/* Where to make the probe file: options.tmpdir, else /tmp. */
std::string ProbeDir(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsObject()) return "/tmp";
  Napi::Value dir = info[0].As<Napi::Object>().Get("tmpdir");
  if (info.Env().IsExceptionPending()) info.Env().GetAndClearPendingException(); /* never throws */
  return dir.IsString() ? dir.As<Napi::String>().Utf8Value() : "/tmp";
}

/* What the process-wide aio configuration is (the probe's details). */
Napi::Object ProcessConfig(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
#ifdef __GLIBC__
  char libc[64];
  snprintf(libc, sizeof libc, "glibc %s", gnu_get_libc_version());
  out.Set("libc", Napi::String::New(env, libc));
  aio::SetCounters(out, {{"aioThreads", double(g_settings.aio_threads)},
                         {"aioNum", double(g_settings.aio_num)},
                         {"aioIdleTime", double(g_settings.aio_idle_time)}});
#else
  out.Set("libc", Napi::String::New(env, "system"));
#endif
  aio::SetCounters(out, {{"aioMax", double(sysconf(_SC_AIO_MAX))}, {"aioListioMax", double(sysconf(_SC_AIO_LISTIO_MAX))}});
  out.Set("anchorError", Napi::String::New(env, DoorbellProcessError()));
  return out;
}

}  // namespace

void ConfigureProcess() { pthread_once(&g_configure_once, ConfigureOnce); }

Napi::Value Probe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string dir = ProbeDir(info);
  char path[PATH_MAX + 32], reason[PATH_MAX + 256];
  snprintf(path, sizeof path, "%s/.aio-posix-probe-XXXXXX", dir.c_str());
  const char *step = "mkstemp";
  int err = 0;
  int fd = mkstemp(path);
  if (fd < 0) {
    err = errno;
  } else {
    unlink(path);
    ProbeIo *p = new (std::nothrow) ProbeIo();
    err = p == nullptr ? ENOMEM : RunProbe(fd, p, &step);
    if (err != ETIMEDOUT) delete p; /* a timed-out IO may still write into it */
    if (err != ETIMEDOUT) close(fd);
  }
  if (err == 0) snprintf(reason, sizeof reason, "POSIX aio works: aio_write, aio_fsync and lio_listio round trip on %s", dir.c_str());
  else if (err == ENOSYS) snprintf(reason, sizeof reason, "ENOSYS: POSIX aio is not implemented here (%s)", step);
  else snprintf(reason, sizeof reason, "%s: %s failed in the probe (%s, in %s)", ErrnoName(err), step, strerror(err), dir.c_str());
  Napi::Object out = Napi::Object::New(env);
  out.Set("available", Napi::Boolean::New(env, err == 0));
  out.Set("reason", Napi::String::New(env, reason));
  if (err != 0) out.Set("code", Napi::String::New(env, ErrnoName(err)));
  out.Set("details", ProcessConfig(env));
  return out;
}

}  // namespace aio_posix
