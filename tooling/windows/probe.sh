#!/usr/bin/env bash
# Re-checks the claims in README.md "What is verified" that the smoke test does
# not cover, against the Windows node.exe under Wine:
#   a  ESM imports through pnpm's symlinked node_modules (with and without the
#      pnpm-realpath workaround that run-node.sh applies)
#   b  node --test with describe/it, t.skip('reason'), and the exit code of a
#      failing run
#   e  process.getuid, os.tmpdir() and a file written there
# (c, worker_threads loading an addon, is part of smoke.sh.)  Prints one PASS
# or FAIL line per check; exits non-zero if any check fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/env.sh
source "$here/env.sh"
run_node="$here/run-node.sh"
failures=0

pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; failures=$((failures + 1)); }
# verdict <0|1> <pass message> <fail message>; the flag comes from a test in
# an `if`, because a bare failing [[ ]] would end the script under set -e.
verdict() { if (($1 == 0)); then pass "$2"; else fail "$3"; fi; }

# Writes package.json and index.js of a tiny ESM package.
make_pkg() {
  mkdir -p "$1"
  printf '{"name":"%s","version":"1.0.0","type":"module","exports":{".":"./index.js"}}\n' "$2" >"$1/package.json"
  printf '%s\n' "$3" >"$1/index.js"
}

# The layout pnpm makes for a workspace: app -> @probe/lib is a workspace
# link; lib -> ext-a links into node_modules/.pnpm; ext-a's dependency ext-b is
# a sibling link inside .pnpm, reachable only from ext-a's real path.
make_pnpm_layout() {
  local ws=$1
  make_pkg "$ws/packages/app" @probe/app "import { hello } from '@probe/lib'; console.log(hello());"
  make_pkg "$ws/packages/lib" @probe/lib "import { a } from 'ext-a'; export const hello = () => 'lib+' + a();"
  make_pkg "$ws/node_modules/.pnpm/ext-a@1.0.0/node_modules/ext-a" ext-a "import { b } from 'ext-b'; export const a = () => 'a+' + b();"
  make_pkg "$ws/node_modules/.pnpm/ext-b@1.0.0/node_modules/ext-b" ext-b "export const b = () => 'b';"
  mkdir -p "$ws/packages/app/node_modules/@probe" "$ws/packages/lib/node_modules"
  ln -s ../../../lib "$ws/packages/app/node_modules/@probe/lib"
  ln -s ../../../node_modules/.pnpm/ext-a@1.0.0/node_modules/ext-a "$ws/packages/lib/node_modules/ext-a"
  ln -s ../../ext-b@1.0.0/node_modules/ext-b "$ws/node_modules/.pnpm/ext-a@1.0.0/node_modules/ext-b"
}

probe_a() {
  local ws="$work/ws" out ok
  make_pnpm_layout "$ws"
  out="$(cd "$ws" && AIO_WIN_PNPM_REALPATH=0 "$run_node" packages/app/index.js 2>&1)" || true
  if [[ $out == *"Cannot find package 'ext-b'"* ]]; then
    pass "a: without the workaround, a transitive pnpm dependency is not found (Wine hides symlinks)"
  else
    fail "a: expected ERR_MODULE_NOT_FOUND for ext-b without the workaround, got: $out"
  fi
  out="$(cd "$ws" && "$run_node" packages/app/index.js 2>&1)" || true
  if [[ $out == "lib+a+b" ]]; then ok=0; else ok=1; fi
  verdict "$ok" "a: workspace link + transitive pnpm ESM import via run-node.sh" "a: ESM import through the pnpm layout printed: $out"
  # The real workspace: eslint is CommonJS with a deep dependency tree and
  # typescript-eslint pulls in ESM-and-CJS packages, all through .pnpm links.
  out="$(cd "$AIO_REPO_ROOT" && "$run_node" --input-type=module -e '
    const { ESLint } = await import("eslint");
    const te = await import("typescript-eslint");
    console.log("eslint " + ESLint.version + ", typescript-eslint " + typeof te.default.config);' 2>&1)" || true
  if [[ $out == "eslint "*", typescript-eslint function" ]]; then ok=0; else ok=1; fi
  verdict "$ok" "a: this repo's eslint and typescript-eslint import ($out)" "a: importing eslint/typescript-eslint from the repo root: $out"
}

probe_b() {
  local dir="$work/runner" out rc=0 start elapsed ok
  mkdir -p "$dir"
  cat >"$dir/mixed.test.mjs" <<'EOF'
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
describe('runner under wine', () => {
  it('passes', () => assert.equal(1 + 1, 2));
  it('skips at run time', (t) => t.skip('needs a real disk'));
  it('fails', () => assert.equal(1, 2));
});
EOF
  sed '/fails/d' "$dir/mixed.test.mjs" >"$dir/green.test.mjs"
  out="$(cd "$dir" && "$run_node" --test mixed.test.mjs 2>&1)" || rc=$?
  if ((rc == 1)) && [[ $out == *"# SKIP needs a real disk"* && $out == *"# fail 1"* ]]; then
    pass "b: describe/it, t.skip('reason') shown as '# SKIP needs a real disk', failing run exits 1"
  else
    fail "b: node --test mixed.test.mjs exited $rc; output: $out"
  fi
  rc=0
  start=$(date +%s%N)
  out="$(cd "$dir" && "$run_node" --test green.test.mjs 2>&1)" || rc=$?
  elapsed=$((($(date +%s%N) - start) / 1000000))
  if ((rc == 0)); then ok=0; else ok=1; fi
  verdict "$ok" "b: passing run exits 0 (node --test of one file: ${elapsed} ms wall)" "b: node --test green.test.mjs exited $rc; output: $out"
}

probe_e() {
  local out ok
  # shellcheck disable=SC2016 # the ${...} belong to JavaScript
  out="$("$run_node" -e '
    const fs = require("node:fs"), os = require("node:os"), path = require("node:path");
    const file = path.join(os.tmpdir(), "aio-probe-" + process.pid + ".txt");
    fs.writeFileSync(file, "tmp ok"); const back = fs.readFileSync(file, "utf8"); fs.unlinkSync(file);
    console.log(`getuid=${typeof process.getuid} tmpdir=${os.tmpdir()} roundtrip=${back}`);' 2>&1)" || true
  if [[ $out == "getuid=undefined tmpdir="*" roundtrip=tmp ok" ]]; then ok=0; else ok=1; fi
  verdict "$ok" "e: $out" "e: $out"
}

main() {
  bash "$here/setup.sh" >/dev/null
  work="$(mktemp -d "${TMPDIR:-/tmp}/aio-win-probe.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  probe_a
  probe_b
  probe_e
  ((failures == 0)) || { echo "probe: $failures check(s) failed" >&2; exit 1; }
}

main "$@"
