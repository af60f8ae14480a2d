/*
 * aio/platform.h: the few threading primitives the native methods need,
 * with one POSIX (pthreads) and one Win32 implementation behind the same
 * names.  Everything is inline so that a method compiles from its own
 * sources plus the kit, with no library to link.
 *
 * Only what the kit and the methods use is here: a mutex, a condition
 * variable, and a thread that can be joined.
 */
#ifndef AIO_PLATFORM_H
#define AIO_PLATFORM_H

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

typedef SRWLOCK aio_mutex;
/* For process-wide state: a mutex usable without aio_mutex_init. */
#define AIO_MUTEX_INITIALIZER SRWLOCK_INIT
#define AIO_COND_INITIALIZER CONDITION_VARIABLE_INIT
typedef CONDITION_VARIABLE aio_cond;
typedef HANDLE aio_thread;

static inline void aio_mutex_init(aio_mutex *m) { InitializeSRWLock(m); }
static inline void aio_mutex_destroy(aio_mutex *m) { (void)m; }
static inline void aio_mutex_lock(aio_mutex *m) { AcquireSRWLockExclusive(m); }
static inline void aio_mutex_unlock(aio_mutex *m) { ReleaseSRWLockExclusive(m); }
static inline void aio_cond_init(aio_cond *c) { InitializeConditionVariable(c); }
static inline void aio_cond_destroy(aio_cond *c) { (void)c; }
static inline void aio_cond_wait(aio_cond *c, aio_mutex *m) { SleepConditionVariableSRW(c, m, INFINITE, 0); }
static inline void aio_cond_signal(aio_cond *c) { WakeConditionVariable(c); }
static inline void aio_cond_broadcast(aio_cond *c) { WakeAllConditionVariable(c); }

typedef struct aio_thread_start {
  void (*fn)(void *);
  void *arg;
} aio_thread_start;

static DWORD WINAPI aio_thread_trampoline(LPVOID p) {
  aio_thread_start start = *(aio_thread_start *)p;
  HeapFree(GetProcessHeap(), 0, p);
  start.fn(start.arg);
  return 0;
}

/* Starts `fn(arg)` on a new thread.  Returns 0 or an error number. */
static inline int aio_thread_create(aio_thread *t, void (*fn)(void *), void *arg) {
  aio_thread_start *start = (aio_thread_start *)HeapAlloc(GetProcessHeap(), 0, sizeof *start);
  if (start == NULL) return ENOMEM;
  start->fn = fn;
  start->arg = arg;
  *t = CreateThread(NULL, 256 * 1024, aio_thread_trampoline, start, 0, NULL);
  if (*t == NULL) {
    HeapFree(GetProcessHeap(), 0, start);
    return EAGAIN;
  }
  return 0;
}

static inline void aio_thread_join(aio_thread t) {
  WaitForSingleObject(t, INFINITE);
  CloseHandle(t);
}

#else /* POSIX */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

typedef pthread_mutex_t aio_mutex;
/* For process-wide state: a mutex usable without aio_mutex_init. */
#define AIO_MUTEX_INITIALIZER PTHREAD_MUTEX_INITIALIZER
#define AIO_COND_INITIALIZER PTHREAD_COND_INITIALIZER
typedef pthread_cond_t aio_cond;
typedef pthread_t aio_thread;

static inline void aio_mutex_init(aio_mutex *m) { pthread_mutex_init(m, NULL); }
static inline void aio_mutex_destroy(aio_mutex *m) { pthread_mutex_destroy(m); }
static inline void aio_mutex_lock(aio_mutex *m) { pthread_mutex_lock(m); }
static inline void aio_mutex_unlock(aio_mutex *m) { pthread_mutex_unlock(m); }
static inline void aio_cond_init(aio_cond *c) { pthread_cond_init(c, NULL); }
static inline void aio_cond_destroy(aio_cond *c) { pthread_cond_destroy(c); }
static inline void aio_cond_wait(aio_cond *c, aio_mutex *m) { pthread_cond_wait(c, m); }
static inline void aio_cond_signal(aio_cond *c) { pthread_cond_signal(c); }
static inline void aio_cond_broadcast(aio_cond *c) { pthread_cond_broadcast(c); }

typedef struct aio_thread_start {
  void (*fn)(void *);
  void *arg;
} aio_thread_start;

static void *aio_thread_trampoline(void *p) {
  aio_thread_start start = *(aio_thread_start *)p;
  free(p);
  start.fn(start.arg);
  return NULL;
}

/*
 * Starts `fn(arg)` on a new thread with a small stack and every signal
 * blocked (a thread of ours must never run Node's signal handlers, nor take
 * SIGINT/SIGTERM meant for the process).  Returns 0 or an errno.
 */
static inline int aio_thread_create(aio_thread *t, void (*fn)(void *), void *arg) {
  aio_thread_start *start = (aio_thread_start *)malloc(sizeof *start);
  if (start == NULL) return ENOMEM;
  start->fn = fn;
  start->arg = arg;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  int rc = pthread_create(t, &attr, aio_thread_trampoline, start);
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) free(start);
  return rc;
}

static inline void aio_thread_join(aio_thread t) { pthread_join(t, NULL); }

#endif

#endif /* AIO_PLATFORM_H */
