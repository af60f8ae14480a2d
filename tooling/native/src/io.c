/*
 * io.c: decoding IO descriptions from JavaScript, and the synchronous
 * execution every POSIX method shares.  See aio/io.h.
 */
#include "aio/io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef _WIN32
#include <sys/uio.h>
#include <unistd.h>
/* aio_iovec must be usable where the kernel expects struct iovec. */
_Static_assert(sizeof(aio_iovec) == sizeof(struct iovec), "aio_iovec matches struct iovec");
_Static_assert(offsetof(aio_iovec, base) == offsetof(struct iovec, iov_base), "iov_base");
_Static_assert(offsetof(aio_iovec, len) == offsetof(struct iovec, iov_len), "iov_len");
#endif

static size_t element_size(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    default:
      return 8; /* float64, bigint64, biguint64 */
  }
}

/* The memory of one ArrayBufferView: a typed array (Buffer included) or a DataView. */
static int view_memory(napi_env env, napi_value view, void **data, size_t *length) {
  bool is_typed = false, is_dataview = false;
  napi_value arraybuffer;
  size_t offset;
  if (napi_is_typedarray(env, view, &is_typed) != napi_ok) return -EINVAL;
  if (is_typed) {
    napi_typedarray_type type;
    size_t count;
    if (napi_get_typedarray_info(env, view, &type, &count, data, &arraybuffer, &offset) != napi_ok) return -EINVAL;
    *length = count * element_size(type);
    return 0;
  }
  if (napi_is_dataview(env, view, &is_dataview) != napi_ok || !is_dataview) return -EINVAL;
  if (napi_get_dataview_info(env, view, length, data, &arraybuffer, &offset) != napi_ok) return -EINVAL;
  return 0;
}

/* Whether `x` is an integer in [low, high] (false for NaN and infinities). */
static int integer_in(double x, double low, double high) {
  return x >= low && x <= high && x == (double)(int64_t)x;
}

/*
 * Whether the words describe an IO this kit can decode: every number an
 * integer in its range, the op known, and as many buffers as the op needs
 * (one for read/write, at least one for readv/writev, none for syncs), all
 * within the `nviews` views passed.  JavaScript (NativeMethod) writes valid
 * words; this guards the native side against anything else.
 */
static int description_valid(const double *w, uint32_t nviews) {
  const double max_safe = 9007199254740991.0;
#ifdef _WIN32
  const double file_low = 0; /* a HANDLE value */
#else
  const double file_low = -2147483648.0; /* an fd; a bad one fails with EBADF */
#endif
  if (!integer_in(w[0], AIO_OP_READ, AIO_OP_ALLOCATE) || !integer_in(w[1], 0, 2147483647.0) ||
      !integer_in(w[2], 0, 4294967295.0) || !integer_in(w[3], 0, 2147483647.0) || !integer_in(w[4], file_low, max_safe) ||
      !integer_in(w[5], 0, max_safe) || !integer_in(w[6], 0, max_safe) || !integer_in(w[7], 0, nviews) ||
      !integer_in(w[8], 0, (double)nviews - w[7]) || w[8] > AIO_MAX_IOVECS) {
    return 0;
  }
  int op = (int)w[0];
  if (op == AIO_OP_READ || op == AIO_OP_WRITE) return w[8] == 1;
  if (op == AIO_OP_READV || op == AIO_OP_WRITEV) return w[8] >= 1;
  /* A stat fills one 32-byte view (four doubles, see io.h); the others carry no memory. */
  if (op == AIO_OP_STAT) return w[8] == 1;
  return w[8] == 0;
}

int aio_decode_io(napi_env env, const double *words, napi_value views, uint32_t i, aio_io *io) {
  const double *w = words + (size_t)i * AIO_SUBMIT_STRIDE;
  memset(io, 0, offsetof(aio_io, inline_iov));
  io->iov = io->inline_iov;
  uint32_t nviews = 0;
  if (napi_get_array_length(env, views, &nviews) != napi_ok || !description_valid(w, nviews)) return -EINVAL;
  io->op = (int32_t)w[0];
  io->index = (int32_t)w[1];
  io->generation = (uint32_t)w[2];
  io->flags = (int32_t)w[3];
  io->file = (int64_t)w[4];
  io->offset = (uint64_t)w[5];
  io->length = (uint64_t)w[6];
  uint32_t first = (uint32_t)w[7];
  io->iovcnt = (uint32_t)w[8];
  if (io->iovcnt > AIO_INLINE_IOVECS) {
    io->iov = (aio_iovec *)malloc(sizeof(aio_iovec) * io->iovcnt);
    if (io->iov == NULL) {
      io->iovcnt = 0;
      io->iov = io->inline_iov;
      return -ENOMEM;
    }
  }
  uint64_t total = 0;
  for (uint32_t k = 0; k < io->iovcnt; k++) {
    napi_value view;
    if (napi_get_element(env, views, first + k, &view) != napi_ok) goto invalid;
    if (view_memory(env, view, &io->iov[k].base, &io->iov[k].len) != 0) goto invalid;
    total += io->iov[k].len;
  }
  /* A single-buffer IO may move fewer bytes than its view holds.  An
   * allocate's length is the byte range to allocate, not memory (no views). */
  if (io->iovcnt == 1 && (io->op == AIO_OP_READ || io->op == AIO_OP_WRITE)) {
    if (io->length > io->iov[0].len) goto invalid;
    io->iov[0].len = (size_t)io->length;
  } else if (io->op != AIO_OP_ALLOCATE && total != io->length) {
    goto invalid;
  }
  return 0;
invalid:
  aio_io_release(io);
  return -EINVAL;
}

void aio_io_release(aio_io *io) {
  if (io->iov != NULL && io->iov != io->inline_iov) free(io->iov);
  io->iov = io->inline_iov;
}

void aio_io_move(aio_io *to, aio_io *from) {
  memcpy(to, from, sizeof *to);
  if (from->iov == from->inline_iov) to->iov = to->inline_iov;
  from->iov = from->inline_iov;
  from->iovcnt = 0;
}

void *aio_typed_array_data(napi_env env, napi_value value, napi_typedarray_type type, size_t min_length, const char *what) {
  bool is_typed = false;
  napi_typedarray_type actual;
  size_t length;
  void *data = NULL;
  napi_value arraybuffer;
  size_t offset;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &actual, &length, &data, &arraybuffer, &offset) != napi_ok ||
      actual != type || length < min_length || data == NULL) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", what);
    return NULL;
  }
  return data;
}

#ifndef _WIN32
int32_t aio_io_execute(const aio_io *io) {
  ssize_t n;
  int fd = (int)io->file;
  off_t offset = (off_t)io->offset;
  const struct iovec *iov = (const struct iovec *)io->iov;
  do {
    switch (io->op) {
      case AIO_OP_READ:
        n = pread(fd, io->iov[0].base, io->iov[0].len, offset);
        break;
      case AIO_OP_READV:
        n = preadv(fd, iov, (int)io->iovcnt, offset);
        break;
      case AIO_OP_WRITE:
        n = pwrite(fd, io->iov[0].base, io->iov[0].len, offset);
        break;
      case AIO_OP_WRITEV:
        n = pwritev(fd, iov, (int)io->iovcnt, offset);
        break;
      case AIO_OP_FSYNC:
        n = fsync(fd);
        break;
      case AIO_OP_FDATASYNC:
#ifdef __APPLE__
        n = fsync(fd);
#else
        n = fdatasync(fd);
#endif
        break;
      default:
        errno = EINVAL;
        n = -1;
    }
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : (int32_t)n;
}
#endif
