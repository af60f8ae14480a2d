/*
 * fork-check.cc: checks the pool's pthread_atfork handlers, which Node
 * itself can never exercise (it does not fork a running process; a native
 * addon could).  Built by scripts/fork-check.mjs together with the pool
 * (native/threadpool.cc) and the kit, with the few Node-API functions the
 * kit's completion queue calls replaced by the stand-ins below, so it runs
 * as a plain program.
 *
 * It keeps IO flowing through the pool from two threads while the main
 * thread forks again and again.  Each child, where the workers no longer
 * exist and the pool lock may have been taken at the moment of the fork,
 * must be able to run IO through a fresh pool and exit within a few
 * seconds.  A child that deadlocks is killed by its alarm and fails the run.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "threadpool.h"

/* ------------------------------------------------------------------ */
/* Stand-ins for the Node-API functions the kit uses.                  */
/* ------------------------------------------------------------------ */

extern "C" {
napi_status napi_create_string_utf8(napi_env, const char *, size_t, napi_value *result) {
  *result = NULL;
  return napi_ok;
}
napi_status napi_create_threadsafe_function(napi_env, napi_value, napi_value, napi_value, size_t, size_t, void *,
                                            napi_finalize, void *, napi_threadsafe_function_call_js,
                                            napi_threadsafe_function *result) {
  *result = (napi_threadsafe_function)1;
  return napi_ok;
}
napi_status napi_ref_threadsafe_function(napi_env, napi_threadsafe_function) { return napi_ok; }
napi_status napi_unref_threadsafe_function(napi_env, napi_threadsafe_function) { return napi_ok; }
napi_status napi_call_threadsafe_function(napi_threadsafe_function, void *, napi_threadsafe_function_call_mode) { return napi_ok; }
napi_status napi_release_threadsafe_function(napi_threadsafe_function, napi_threadsafe_function_release_mode) { return napi_ok; }
napi_status napi_throw_error(napi_env, const char *, const char *) { return napi_ok; }
napi_status napi_throw_type_error(napi_env, const char *, const char *) { return napi_ok; }
napi_status napi_create_uint32(napi_env, uint32_t, napi_value *) { return napi_ok; }
napi_status napi_get_global(napi_env, napi_value *) { return napi_ok; }
napi_status napi_call_function(napi_env, napi_value, napi_value, size_t, const napi_value *, napi_value *) { return napi_ok; }
napi_status napi_get_array_length(napi_env, napi_value, uint32_t *) { return napi_generic_failure; }
napi_status napi_get_element(napi_env, napi_value, uint32_t, napi_value *) { return napi_generic_failure; }
napi_status napi_is_typedarray(napi_env, napi_value, bool *) { return napi_generic_failure; }
napi_status napi_is_dataview(napi_env, napi_value, bool *) { return napi_generic_failure; }
napi_status napi_get_typedarray_info(napi_env, napi_value, napi_typedarray_type *, size_t *, void **, napi_value *, size_t *) {
  return napi_generic_failure;
}
napi_status napi_get_dataview_info(napi_env, napi_value, size_t *, void **, napi_value *, size_t *) { return napi_generic_failure; }
/* file_ops.c's synchronous-call decoder (the workers run its ops; the check never decodes one). */
napi_status napi_get_value_double(napi_env, napi_value, double *) { return napi_generic_failure; }
napi_status napi_typeof(napi_env, napi_value, napi_valuetype *) { return napi_generic_failure; }
}

/* ------------------------------------------------------------------ */
/* A context and its IO, as binding.cc would set them up.             */
/* ------------------------------------------------------------------ */

const uint32_t kSlots = 8;

struct test_context {
  tp_context pool;
  aio_completion_queue cq; /* pool.cq points here */
  int32_t table[3 * kSlots];
  char buffers[kSlots][512];
  uint32_t generation;
};

void context_init(test_context *t) {
  memset(t, 0, sizeof *t);
  t->pool.cq = &t->cq;
  aio_cq_init(&t->cq, NULL, kSlots, t->table, NULL, "fork-check");
  t->pool.capacity = kSlots;
  t->pool.requests = (tp_request *)calloc(kSlots, sizeof(tp_request));
  for (uint32_t i = 0; i < kSlots; i++) t->pool.requests[i].ctx = &t->pool;
  tp_pool_register(&t->pool);
}

void context_destroy(test_context *t) {
  tp_pool_unregister(&t->pool);
  aio_cq_destroy(t->pool.cq);
  free(t->pool.requests);
}

/* Reads 512 bytes at `offset` through the pool into slot `slot`; returns the result. */
int32_t read_through_pool(test_context *t, int fd, uint32_t slot, uint64_t offset) {
  aio_io io;
  memset(&io, 0, sizeof io);
  io.op = AIO_OP_READ;
  io.index = (int32_t)slot;
  io.generation = ++t->generation;
  io.file = fd;
  io.offset = offset;
  io.length = 512;
  io.iovcnt = 1;
  io.iov = io.inline_iov;
  io.iov[0].base = t->buffers[slot];
  io.iov[0].len = 512;
  uint8_t outcome = TP_OUTCOME_PENDING;
  aio_cq_accepted(t->pool.cq, 1);
  tp_pool_submit(&t->pool, &io, 1, &outcome);
  if (outcome == TP_OUTCOME_FULL) {
    aio_cq_push(t->pool.cq, io.index, io.generation, tp_execute(&io));
  } else if (outcome != TP_OUTCOME_QUEUED) {
    return -EINVAL;
  }
  aio_cq_wait(t->pool.cq, io.index, io.generation);
  return t->table[2];
}

/* ------------------------------------------------------------------ */
/* The check.                                                          */
/* ------------------------------------------------------------------ */

struct load_args {
  int fd;
  volatile int *stop;
  int failures;
};

/* Keeps IO going through the pool until told to stop. */
void *load(void *arg) {
  load_args *a = (load_args *)arg;
  test_context t;
  context_init(&t);
  for (uint32_t n = 0; !*a->stop; n++) {
    if (read_through_pool(&t, a->fd, n % kSlots, (n % 64) * 512) != 512) a->failures++;
  }
  context_destroy(&t);
  return NULL;
}

/* In a child: the pool must work again, with threads of its own. */
int child_main(int fd) {
  alarm(5); /* a deadlock in the child ends here, with SIGALRM */
  test_context t;
  context_init(&t);
  for (uint32_t n = 0; n < 32; n++) {
    if (read_through_pool(&t, fd, n % kSlots, n * 512) != 512) return 3;
    if (t.buffers[n % kSlots][0] != (char)(n & 0x7f)) return 4;
  }
  context_destroy(&t);
  tp_pool_detach_env(); /* the child's only "environment": joins the child's workers */
  return 0;
}

int main(int argc, char **argv) {
  const int forks = argc > 1 ? atoi(argv[1]) : 200;
  char path[] = "/tmp/aio-fork-check-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return perror("mkstemp"), 1;
  unlink(path);
  for (int i = 0; i < 64; i++) {
    char block[512];
    memset(block, i & 0x7f, sizeof block);
    if (pwrite(fd, block, sizeof block, (off_t)i * 512) != 512) return perror("pwrite"), 1;
  }
  tp_pool_attach_env();
  tp_pool_configure(4, 4, 0); /* a small queue: the submitter-runs-it path is taken too */
  volatile int stop = 0;
  load_args args[2] = {{fd, &stop, 0}, {fd, &stop, 0}};
  pthread_t loaders[2];
  for (int i = 0; i < 2; i++) pthread_create(&loaders[i], NULL, load, &args[i]);
  int failed = 0;
  for (int i = 0; i < forks && !failed; i++) {
    pid_t child = fork();
    if (child == 0) _exit(child_main(fd));
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "fork-check: child %d %s %d\n", i, WIFSIGNALED(status) ? "killed by signal" : "exited with", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
      failed = 1;
    }
  }
  stop = 1;
  for (int i = 0; i < 2; i++) pthread_join(loaders[i], NULL);
  tp_pool_detach_env();
  if (args[0].failures + args[1].failures > 0) {
    fprintf(stderr, "fork-check: %d reads in the parent failed\n", args[0].failures + args[1].failures);
    failed = 1;
  }
  tp_pool_info info;
  tp_pool_get_info(&info);
  printf("fork-check: %s: %d forks while IO ran through the pool (%llu IOs executed in the parent)\n", failed ? "FAILED" : "ok", forks,
         (unsigned long long)info.executed);
  return failed;
}
