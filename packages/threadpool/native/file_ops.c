/*
 * file_ops.c: stat, truncate and allocate on one file, blocking.  See
 * file_ops.h for who uses it and what each op means.
 */
#include "file_ops.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#ifdef _WIN32
#include "aio/platform.h" /* <windows.h> */
#include "aio/win_errno.h"
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#ifdef _WIN32
#define FILE_OPS_EINVAL AIO_UV_EINVAL
#else
#define FILE_OPS_EINVAL (-EINVAL)
#endif

int aio_file_op_is(int32_t op) { return op == AIO_OP_STAT || op == AIO_OP_TRUNCATE || op == AIO_OP_ALLOCATE; }

/* The contract fixes little-endian float64, whatever the host's byte order (AIX is big-endian). */
static void put_le_double(unsigned char *at, double value) {
  uint64_t bits;
  memcpy(&bits, &value, sizeof bits);
  for (int i = 0; i < 8; i++) at[i] = (unsigned char)(bits >> (8 * i));
}

static void put_stat(unsigned char *out, double size, double allocated, double block_size, double modified_ms) {
  put_le_double(out, size);
  put_le_double(out + 8, allocated);
  put_le_double(out + 16, block_size);
  put_le_double(out + 24, modified_ms);
}

/* A time as node:fs computes `mtimeMs` from seconds and nanoseconds, so the doubles are equal to the bit. */
static double time_ms(double seconds, double nanoseconds) { return seconds * 1000.0 + nanoseconds / 1e6; }

#ifdef _WIN32

static HANDLE handle_of(int64_t file) { return (HANDLE)(intptr_t)file; }

/* A failed SetFileInformationByHandle or GetFileInformationByHandleEx, in Node's numbering.
 * A HANDLE opened without write access fails with ERROR_ACCESS_DENIED: EBADF, as for a write. */
static int32_t last_error(void) { return aio_win_errno(GetLastError(), AIO_WIN_CALL_TRANSFER); }

/* FILETIME ticks (100 ns since 1601) to ms since 1970, through libuv's seconds and nanoseconds. */
static double filetime_ms(LARGE_INTEGER ticks) {
  int64_t since_1970 = ticks.QuadPart - 116444736000000000LL;
  int64_t seconds = since_1970 / 10000000, rest = since_1970 % 10000000;
  if (rest < 0) rest += 10000000, seconds--; /* before 1970: nanoseconds stay non-negative */
  return time_ms((double)seconds, (double)(rest * 100));
}

static int32_t file_stat(int64_t file, unsigned char *out) {
  FILE_STANDARD_INFO standard;
  FILE_BASIC_INFO basic;
  if (!GetFileInformationByHandleEx(handle_of(file), FileStandardInfo, &standard, sizeof standard)) return last_error();
  if (!GetFileInformationByHandleEx(handle_of(file), FileBasicInfo, &basic, sizeof basic)) return last_error();
  /* libuv reports st_blksize 4096 for every file on Windows; so does this, to match node:fs. */
  put_stat(out, (double)standard.EndOfFile.QuadPart, (double)standard.AllocationSize.QuadPart, 4096.0, filetime_ms(basic.LastWriteTime));
  return 0;
}

static int32_t set_end_of_file(int64_t file, uint64_t length) {
  FILE_END_OF_FILE_INFO end;
  end.EndOfFile.QuadPart = (LONGLONG)length;
  return SetFileInformationByHandle(handle_of(file), FileEndOfFileInfo, &end, sizeof end) ? 0 : last_error();
}

static int32_t file_truncate(int64_t file, uint64_t length) { return set_end_of_file(file, length); }

/*
 * A failed FileAllocationInfo.  Where there is no allocation call at all
 * (Wine 8 answers ERROR_CALL_NOT_IMPLEMENTED; a redirector may say
 * ERROR_NOT_SUPPORTED or ERROR_INVALID_FUNCTION) the answer is ENOTSUP, as
 * the contract wants: the core then extends the file with truncate.
 */
static int32_t allocation_error(void) {
  DWORD error = GetLastError();
  if (error == ERROR_CALL_NOT_IMPLEMENTED || error == ERROR_NOT_SUPPORTED || error == ERROR_INVALID_FUNCTION) return AIO_UV_ENOTSUP;
  return aio_win_errno(error, AIO_WIN_CALL_TRANSFER);
}

/*
 * Windows allocates per file, not per range: the allocation size counts
 * from offset 0, and every byte below the end of a file that is not sparse
 * is allocated already.  So the range is allocated by growing the
 * allocation to its end, never shrinking it (a smaller allocation size
 * truncates the file), and then, unless the size must stay, by moving the
 * end of file there.  With keep-size NTFS may give back the allocation past
 * the end of file when the last handle closes (README.md, "File operations").
 */
int32_t aio_file_allocate(int64_t file, uint64_t offset, uint64_t length, int keep_size) {
  if (length == 0) return AIO_UV_EINVAL; /* as fallocate(2) and posix_fallocate(3) */
  uint64_t end = offset + length;
  FILE_STANDARD_INFO standard;
  if (!GetFileInformationByHandleEx(handle_of(file), FileStandardInfo, &standard, sizeof standard)) return last_error();
  if ((uint64_t)standard.AllocationSize.QuadPart < end) {
    FILE_ALLOCATION_INFO allocation;
    allocation.AllocationSize.QuadPart = (LONGLONG)end;
    if (!SetFileInformationByHandle(handle_of(file), FileAllocationInfo, &allocation, sizeof allocation)) return allocation_error();
  }
  if (keep_size || (uint64_t)standard.EndOfFile.QuadPart >= end) return 0;
  return set_end_of_file(file, end);
}

#else /* POSIX */

static int32_t file_stat(int64_t file, unsigned char *out) {
  struct stat st;
  if (fstat((int)file, &st) != 0) return -errno;
#ifdef __APPLE__
  const struct timespec *mtime = &st.st_mtimespec;
#else
  const struct timespec *mtime = &st.st_mtim;
#endif
  put_stat(out, (double)st.st_size, (double)st.st_blocks * 512.0, (double)st.st_blksize, time_ms((double)mtime->tv_sec, (double)mtime->tv_nsec));
  return 0;
}

static int32_t file_truncate(int64_t file, uint64_t length) {
  int rc;
  do rc = ftruncate((int)file, (off_t)length);
  while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : -errno;
}

/*
 * Linux: fallocate(2), mode 0 or FALLOC_FL_KEEP_SIZE; a filesystem without
 * it says EOPNOTSUPP, which the core turns into extending with truncate
 * ('extended').  Elsewhere posix_fallocate(3), which has no keep-size mode,
 * and macOS has neither: both answer EOPNOTSUPP where they cannot.
 */
int32_t aio_file_allocate(int64_t file, uint64_t offset, uint64_t length, int keep_size) {
#if defined(__linux__)
  int rc;
  do rc = fallocate((int)file, keep_size ? FALLOC_FL_KEEP_SIZE : 0, (off_t)offset, (off_t)length);
  while (rc != 0 && errno == EINTR);
  return rc == 0 ? 0 : -errno;
#elif defined(__APPLE__)
  (void)file, (void)offset, (void)length, (void)keep_size;
  return -EOPNOTSUPP;
#else
  if (keep_size) return -EOPNOTSUPP;
  int rc;
  do rc = posix_fallocate((int)file, (off_t)offset, (off_t)length);
  while (rc == EINTR);
  return -rc;
#endif
}

#endif /* POSIX */

int32_t aio_file_op_execute(const aio_io *io) {
  switch (io->op) {
    case AIO_OP_STAT:
      if (io->iovcnt != 1 || io->iov[0].len < AIO_FILE_STAT_BYTES) return FILE_OPS_EINVAL;
      return file_stat(io->file, (unsigned char *)io->iov[0].base);
    case AIO_OP_TRUNCATE:
      return file_truncate(io->file, io->offset);
    case AIO_OP_ALLOCATE:
      return aio_file_allocate(io->file, io->offset, io->length, (io->flags & AIO_FLAG_KEEP_SIZE) != 0);
    default:
      return FILE_OPS_EINVAL;
  }
}

/* A number argument, or NaN (which every check below refuses). */
static double number_of(napi_env env, napi_value value) {
  double x;
  return napi_get_value_double(env, value, &x) == napi_ok ? x : (double)NAN;
}

static int is_whole(double x, double low, double high) { return x >= low && x <= high && x == (double)(int64_t)x; }

/*
 * The kit's decoder checks every number and view.  It is given each file op
 * in a shape it has always known, so it validates the same way whether or
 * not it knows the new op codes yet: a stat as a read of
 * AIO_FILE_STAT_BYTES into its one view (a shorter or detached view is
 * refused), truncate and allocate as a sync (no view) with their offset.
 * The op, the length and the flags are then set to the real ones.
 */
void aio_file_op_redecode(napi_env env, const napi_value args[6], aio_io *io, int *status) {
  double op = number_of(env, args[0]);
  if (!is_whole(op, AIO_OP_STAT, AIO_OP_ALLOCATE) || !aio_file_op_is((int32_t)op)) return;
  aio_io_release(io);
  napi_valuetype flags_type = napi_undefined;
  double flags = napi_typeof(env, args[5], &flags_type) == napi_ok && flags_type == napi_undefined ? 0 : number_of(env, args[5]);
  double length = number_of(env, args[3]);
  double w[AIO_SUBMIT_STRIDE] = {0};
  w[0] = op == AIO_OP_STAT ? AIO_OP_READ : AIO_OP_FSYNC;
  w[4] = number_of(env, args[1]);
  w[5] = number_of(env, args[2]);
  w[6] = op == AIO_OP_STAT ? AIO_FILE_STAT_BYTES : 0;
  w[8] = op == AIO_OP_STAT ? 1 : 0;
  *status = -1;
  /* Exactly the views the op has (stat one, the others none): anything else is a bad description. */
  uint32_t nviews = 0;
  if (napi_get_array_length(env, args[4], &nviews) != napi_ok || nviews != (uint32_t)w[8]) return;
  if (!is_whole(length, 0, 9007199254740991.0) || !is_whole(flags, 0, 2147483647.0)) return;
  if (aio_decode_io(env, w, args[4], 0, io) != 0) return;
  io->op = (int32_t)op;
  io->length = (uint64_t)length;
  io->flags = (int32_t)flags;
  *status = 0;
}
