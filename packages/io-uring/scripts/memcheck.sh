#!/usr/bin/env bash
# Runs the io_uring addon under AddressSanitizer: builds build/asan/, then
# runs a focused workload, this package's tests and the conformance suite's
# io_uring tests with libasan preloaded into every node process (children
# and worker threads included).  Any sanitizer report fails the run: ASan
# writes each one to a file under $report_dir, which must stay empty.
#
# Usage: pnpm --filter @aio/io-uring test:memcheck   (from anywhere)
#        bash scripts/memcheck.sh --workload-only      (just the workload)
set -euo pipefail
package_dir="$(cd "$(dirname "$0")/.." && pwd)"
root_dir="$(cd "$package_dir/../.." && pwd)"
cd "$package_dir"

libasan="$(${CC:-gcc} -print-file-name=libasan.so)"
if [[ "$libasan" != /* || ! -e "$libasan" ]]; then
  echo "memcheck: skipped: libasan.so not found (install gcc's AddressSanitizer runtime)" >&2
  exit 0
fi

node "$root_dir/tooling/native/build.mjs" --variant asan
(cd "$root_dir" && pnpm --filter @aio/io-uring --filter @aio/conformance build >/dev/null)
if [[ ! -e build/asan/aio_io_uring.node ]]; then
  echo "memcheck: skipped: $(cat build/asan/aio_io_uring.skipped 2>/dev/null || echo 'the ASan build was not produced')" >&2
  exit 0
fi

report_dir="$(mktemp -d /tmp/aio-io-uring-asan.XXXXXX)"
export LD_PRELOAD="$libasan"
export AIO_NATIVE_VARIANT=asan
# detect_leaks=0: node itself does not free everything at exit; leaks of the
# addon's per-IO state would show up as growth in the workload instead.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=86:log_path=$report_dir/asan:allow_user_segv_handler=1"

status=0
run() {
  echo "memcheck: $*"
  "$@" || status=$?
}
run node --expose-gc scripts/memcheck-workload.mjs
if [[ "${1:-}" != "--workload-only" ]]; then
  (cd "$root_dir" && run pnpm exec vitest run --project @aio/io-uring) || status=$?
  (cd "$root_dir" && AIO_CONFORMANCE_METHODS=io_uring run pnpm exec vitest run --project @aio/conformance) || status=$?
fi

unset LD_PRELOAD
if compgen -G "$report_dir/asan*" > /dev/null; then
  echo "memcheck: AddressSanitizer reported errors:" >&2
  cat "$report_dir"/asan* >&2
  exit 1
fi
rm -rf "$report_dir"
if [[ $status -ne 0 ]]; then
  echo "memcheck: a run failed (exit $status) without a sanitizer report" >&2
  exit "$status"
fi
echo "memcheck: no AddressSanitizer reports"
