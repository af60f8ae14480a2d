#!/usr/bin/env bash
# linux-x64-musl: the addons cross-built with Zig's clang, musl and libc++
# (build.mjs), into packages/<pkg>/build/linux-x64-musl/.  Built, not run: no
# musl Node is reachable here (none on npm, no Alpine image).  Skips with the
# reason when Zig is missing.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/env.sh
source "$here/env.sh"
[[ -x $AIO_ZIG ]] || { echo "build-musl: skipped: no Zig at ${AIO_ZIG#"$AIO_REPO_ROOT"/} (bash tooling/cross/setup.sh)"; exit 0; }
start=$EPOCHSECONDS
node "$here/build.mjs" linux-x64-musl threadpool posix-aio io-uring || exit 1
for f in "$AIO_REPO_ROOT"/packages/*/build/linux-x64-musl/*.node; do
  echo "build-musl: ${f#"$AIO_REPO_ROOT"/}: $(file -b "$f" | cut -d, -f1-2) (built, not run)"
done
echo "build-musl: $((EPOCHSECONDS - start)) s"
