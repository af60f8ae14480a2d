#!/usr/bin/env bash
# Every test: the README's test command (`pnpm test`) and what .ci/run runs.
#   1. build, type-check and lint every package;
#   2. every vitest project: core, the conformance suite on every method
#      (methods that cannot run here are skipped with the reason), backends,
#      the selector, the benchmark's own logic;
#   3. the native memory checks (AddressSanitizer/valgrind runs per backend);
#   4. the Windows build, tested under Wine (iocp, threadpool, sync);
#   5. the FreeBSD compile check (compile-checked for FreeBSD, not run);
#   6. the conformance suite on the official Node 22 and 24 (npm binaries);
#   7. linux-arm64: cross-built, tested under qemu-user (threadpool, posix_aio,
#      the selector's fallback);
#   8. linux-x64-musl: cross-built with Zig, built, not run (no musl Node here);
#   9. the GitHub workflows, checked with actionlint (only GitHub runs them).
# Steps 6-8 print why and pass when their toolchain is missing (tooling/cross/setup.sh).
# Every step runs even if an earlier one failed; the summary says which failed.
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
step() {
  local name=$1
  shift
  printf '\n=== %s ===\n' "$name"
  if "$@"; then
    printf '=== %s: passed ===\n' "$name"
  else
    printf '=== %s: FAILED ===\n' "$name"
    failed+=("$name")
  fi
}

step build pnpm build
step typecheck pnpm typecheck
step lint pnpm lint
step "vitest (all projects)" pnpm exec vitest run
step "native memory checks" pnpm -r --workspace-concurrency=1 --if-present run test:memcheck
step "Windows build, tested under Wine" pnpm test:windows
step "FreeBSD compile check" pnpm check:freebsd
step "conformance on Node 22 and 24" bash tooling/cross/test-node-versions.sh
step "linux-arm64, tested under qemu-user" bash tooling/cross/test-arm64.sh
step "linux-x64-musl build (built, not run)" bash tooling/cross/build-musl.sh
step "workflows (actionlint)" bash tooling/ci/lint-workflows.sh

printf '\n=== summary ===\n'
if [ "${#failed[@]}" -eq 0 ]; then
  echo "all steps passed"
else
  printf 'failed: %s\n' "${failed[@]}"
  exit 1
fi
