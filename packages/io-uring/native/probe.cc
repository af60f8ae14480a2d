/*
 * probe.cc: does io_uring really work here?  A real ring setup plus a
 * no-op round trip, with the setup errno turned into a reason a user can
 * act on.  The result is cached per environment (per thread), in the
 * environment's instance data, one per set of setup flags probed.
 */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "uring.h"

namespace aio_uring {

namespace {

/* Per-environment state: the cached probe results (without and with SQPOLL). */
struct EnvState {
  napi_ref probes[2] = {nullptr, nullptr};
};

void FreeEnvState(napi_env env, void *data, void *hint) {
  EnvState *state = static_cast<EnvState *>(data);
  for (napi_ref ref : state->probes) {
    if (ref != nullptr) napi_delete_reference(env, ref);
  }
  delete state;
}

EnvState *GetEnvState(napi_env env) {
  void *data = nullptr;
  if (napi_get_instance_data(env, &data) == napi_ok && data != nullptr) return static_cast<EnvState *>(data);
  EnvState *state = new EnvState();
  if (napi_set_instance_data(env, state, FreeEnvState, nullptr) != napi_ok) {
    delete state;
    return nullptr;
  }
  return state;
}

/* An integer sysctl from /proc/sys, or -1 if it cannot be read (older kernels have no io_uring_disabled). */
long ReadSysctl(const char *path) {
  FILE *file = fopen(path, "re");
  if (file == nullptr) return -1;
  long value = -1;
  if (fscanf(file, "%ld", &value) != 1) value = -1;
  fclose(file);
  return value;
}

/* Whether kernel.io_uring_disabled=1 lets this process in: root (CAP_SYS_ADMIN, approximately) or a member of kernel.io_uring_group. */
bool AllowedByGroup() {
  if (geteuid() == 0) return true;
  long gid = ReadSysctl("/proc/sys/kernel/io_uring_group");
  if (gid < 0) return false;
  if (getegid() == static_cast<gid_t>(gid)) return true;
  int count = getgroups(0, nullptr);
  if (count <= 0) return false;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  count = getgroups(count, groups.data());
  for (int i = 0; i < count; i++) {
    if (groups[static_cast<size_t>(i)] == static_cast<gid_t>(gid)) return true;
  }
  return false;
}

std::string ErrnoName(int error) {
#ifdef __GLIBC__
  const char *name = strerrorname_np(error);
  if (name != nullptr) return name;
#else
  // musl has no strerrorname_np: the names a ring setup answers with.
  switch (error) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    default: break;
  }
#endif
  return "E" + std::to_string(error);
}

std::string MemlockLimit() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_MEMLOCK, &limit) != 0) return "unknown";
  if (limit.rlim_cur == RLIM_INFINITY) return "unlimited";
  return std::to_string(limit.rlim_cur / 1024) + " KiB";
}

/*
 * The reason for a failed io_uring_setup.  `disabled` is the value of
 * kernel.io_uring_disabled (-1 unknown) and `in_group` whether the process
 * passes kernel.io_uring_group; both only matter for EPERM.
 */
std::string DescribeSetupErrno(int error, long disabled, bool in_group) {
  switch (error) {
    case EPERM:
      if (disabled == 2) return "EPERM: io_uring disabled by kernel.io_uring_disabled=2";
      if (disabled == 1 && !in_group) {
        return "EPERM: io_uring restricted by kernel.io_uring_disabled=1 and this process is not in kernel.io_uring_group";
      }
      return "EPERM: blocked by seccomp (io_uring_setup is refused although kernel.io_uring_disabled=" +
             (disabled < 0 ? std::string("(absent)") : std::to_string(disabled)) +
             "; container runtimes' default seccomp profiles do this)";
    case ENOSYS:
      return "ENOSYS: kernel has no io_uring (it needs Linux 5.1 or newer, built with CONFIG_IO_URING)";
    case ENOMEM:
      return "ENOMEM: RLIMIT_MEMLOCK too low for the ring (ulimit -l is " + MemlockLimit() + ")";
    case EMFILE:
      return "EMFILE: too many open files (the ring needs a file descriptor; raise ulimit -n)";
    case ENFILE:
      return "ENFILE: too many open files in the system";
    case EINVAL:
      return "EINVAL: the kernel refused the ring parameters (a setup flag such as SQPOLL is not supported)";
    default:
      return ErrnoName(error) + ": io_uring_setup failed (" + strerror(error) + ")";
  }
}

void SetString(napi_env env, napi_value object, const char *name, const std::string &value) {
  napi_value v;
  napi_create_string_utf8(env, value.c_str(), value.size(), &v);
  napi_set_named_property(env, object, name, v);
}

void SetNumber(napi_env env, napi_value object, const char *name, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, object, name, v);
}

void SetBool(napi_env env, napi_value object, const char *name, bool value) {
  napi_value v;
  napi_get_boolean(env, value, &v);
  napi_set_named_property(env, object, name, v);
}

/* Facts about the kernel and the ring for `details`. */
napi_value Details(napi_env env, struct io_uring *ring, const struct io_uring_params &params, bool sqpoll) {
  napi_value details;
  napi_create_object(env, &details);
  struct utsname names;
  if (uname(&names) == 0) SetString(env, details, "kernel", names.release);
  SetBool(env, details, "sqpoll", sqpoll);
  if (ring == nullptr) return details;
  SetNumber(env, details, "features", params.features);
  struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
  SetBool(env, details, "opcodeProbe", probe != nullptr);
  if (probe != nullptr) {
    static const std::pair<int, const char *> kOps[] = {
        {IORING_OP_READ, "read"}, {IORING_OP_WRITE, "write"}, {IORING_OP_READV, "readv"}, {IORING_OP_WRITEV, "writev"},
        {IORING_OP_FSYNC, "fsync"}, {IORING_OP_READ_FIXED, "read_fixed"}, {IORING_OP_WRITE_FIXED, "write_fixed"},
        {IORING_OP_ASYNC_CANCEL, "async_cancel"}, {IORING_OP_STATX, "statx"}, {IORING_OP_FALLOCATE, "fallocate"},
        {kOpFtruncate, "ftruncate"}};
    std::string ops;
    for (const auto &op : kOps) {
      if (io_uring_opcode_supported(probe, op.first)) ops += (ops.empty() ? "" : ",") + std::string(op.second);
    }
    SetString(env, details, "opcodes", ops);
  }
  /* The aio ops a context's ring runs here (capabilities.ops); the rest go through the synchronous fallback. */
  bool ok[kOpCount];
  SupportedOps(probe, ok);
  std::string supported;
  for (int op = 1; op < kOpCount; op++) {
    if (ok[op]) supported += (supported.empty() ? "" : ",") + std::string(kOpNames[op]);
  }
  SetString(env, details, "ops", supported);
  if (probe != nullptr) io_uring_free_probe(probe);
  return details;
}

napi_value Result(napi_env env, bool available, const std::string &reason, const std::string &code, napi_value details) {
  napi_value result;
  napi_create_object(env, &result);
  SetBool(env, result, "available", available);
  SetString(env, result, "reason", reason);
  if (!code.empty()) SetString(env, result, "code", code);
  napi_set_named_property(env, result, "details", details);
  napi_object_freeze(env, details);
  napi_object_freeze(env, result);
  return result;
}

/* One NOP through the ring: submitted, completed, reaped.  Returns 0 or -errno. */
int NopRoundTrip(struct io_uring *ring) {
  const uint64_t kNopTag = 0x70726f6265ULL;
  struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
  if (sqe == nullptr) return -EBUSY;
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, kNopTag);
  int ret;
  do {
    ret = io_uring_submit_and_wait(ring, 1);
  } while (ret == -EINTR);
  if (ret < 0) return ret;
  struct io_uring_cqe *cqe = nullptr;
  ret = io_uring_peek_cqe(ring, &cqe);
  if (ret < 0) return ret;
  int result = cqe->user_data == kNopTag ? cqe->res : -EPROTO;
  io_uring_cqe_seen(ring, cqe);
  return result;
}

napi_value RunProbe(napi_env env, bool sqpoll) {
  struct io_uring ring;
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  params.flags = sqpoll ? IORING_SETUP_SQPOLL : 0;
  int ret = io_uring_queue_init_params(4, &ring, &params);
  if (ret < 0) {
    return Result(env, false, SetupFailureReason(-ret), ErrnoName(-ret), Details(env, nullptr, params, sqpoll));
  }
  napi_value details = Details(env, &ring, params, sqpoll);
  ret = NopRoundTrip(&ring);
  io_uring_queue_exit(&ring);
  if (ret < 0) {
    return Result(env, false, ErrnoName(-ret) + ": a no-op round trip through the ring failed (" + strerror(-ret) + ")", ErrnoName(-ret), details);
  }
  struct utsname names;
  std::string kernel = uname(&names) == 0 ? std::string(" (kernel ") + names.release + ")" : "";
  std::string what = sqpoll ? "ring setup with SQPOLL" : "ring setup";
  return Result(env, true, "io_uring works: " + what + " and a no-op round trip succeeded" + kernel, "", details);
}

}  // namespace

std::string SetupFailureReason(int error) {
  return DescribeSetupErrno(error, ReadSysctl("/proc/sys/kernel/io_uring_disabled"), AllowedByGroup());
}

/* probe(options?): { available, reason, code?, details }, frozen, cached per environment. */
napi_value Probe(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value options;
  if (napi_get_cb_info(env, info, &argc, &options, nullptr, nullptr) != napi_ok) return nullptr;
  bool sqpoll = false;
  napi_valuetype type = napi_undefined;
  if (argc > 0) napi_typeof(env, options, &type);
  if (type == napi_object) {
    napi_value value;
    napi_valuetype value_type;
    if (napi_get_named_property(env, options, "sqpoll", &value) == napi_ok && napi_typeof(env, value, &value_type) == napi_ok &&
        value_type == napi_boolean) {
      napi_get_value_bool(env, value, &sqpoll);
    }
  }
  EnvState *state = GetEnvState(env);
  napi_value cached = nullptr;
  if (state != nullptr && state->probes[sqpoll] != nullptr && napi_get_reference_value(env, state->probes[sqpoll], &cached) == napi_ok &&
      cached != nullptr) {
    return cached;
  }
  napi_value result = RunProbe(env, sqpoll);
  if (state != nullptr && state->probes[sqpoll] == nullptr) napi_create_reference(env, result, 1, &state->probes[sqpoll]);
  return result;
}

/* describeSetupError(errno, ioUringDisabled, inGroup): the reason text for a setup errno (tests use it). */
napi_value DescribeSetupError(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  int32_t error = 0, disabled = -1;
  bool in_group = false;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &error) != napi_ok || napi_get_value_int32(env, argv[1], &disabled) != napi_ok ||
      napi_get_value_bool(env, argv[2], &in_group) != napi_ok) {
    napi_throw_type_error(env, "AIO_ERR_INVALID_TYPE", "describeSetupError(errno: number, ioUringDisabled: number, inGroup: boolean)");
    return nullptr;
  }
  std::string reason = DescribeSetupErrno(error < 0 ? -error : error, disabled, in_group);
  napi_value out;
  napi_create_string_utf8(env, reason.c_str(), reason.size(), &out);
  return out;
}

}  // namespace aio_uring
