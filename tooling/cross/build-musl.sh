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
# io-uring: its uring.h embeds `struct statx`, which musl before 1.2.5 (Zig
# 0.11 ships 1.2.4) does not declare; it builds once uring.h takes the type
# from <linux/stat.h>.  Until then it is reported, not built.
echo "build-musl: io-uring skipped: struct statx is not declared by musl 1.2.4 (uring.h needs <linux/stat.h>)"
start=$EPOCHSECONDS
node "$here/build.mjs" linux-x64-musl threadpool posix-aio || exit 1
for f in "$AIO_REPO_ROOT"/packages/*/build/linux-x64-musl/*.node; do
  echo "build-musl: ${f#"$AIO_REPO_ROOT"/}: $(file -b "$f" | cut -d, -f1-2) (built, not run)"
done
echo "build-musl: $((EPOCHSECONDS - start)) s"
