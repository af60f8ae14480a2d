#!/usr/bin/env bash
# `pnpm build:windows`: cross-builds, with mingw-w64, the win32-x64 addon of
# every backend whose native/build.json has a "windows" section, into
# packages/<pkg>/build/win32-x64/<target>.node (where loadNativeBinding looks
# on Windows).  Each backend describes its Windows build there and nowhere
# else; tooling/native/build-windows.mjs reads it and skips an addon that is
# newer than all its inputs.
#
#   bash tooling/windows/build-windows.sh            # every backend with a "windows" section
#   bash tooling/windows/build-windows.sh iocp       # only packages/iocp (folder names)
#
# Only the compilers are needed; when they are missing, setup.sh installs
# them (and prepares Wine, which the tests need anyway).  The TypeScript
# side is built by the usual `pnpm build`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/env.sh
source "$here/env.sh"

# The folders under packages/ whose build.json asks for a Windows build.
windows_packages() {
  local spec
  for spec in "$AIO_REPO_ROOT"/packages/*/native/build.json; do
    node -e 'process.exit(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).windows ? 0 : 1)' "$spec" &&
      basename "$(dirname "$(dirname "$spec")")"
  done
  return 0
}

main() {
  if ! command -v x86_64-w64-mingw32-g++-posix >/dev/null || ! command -v x86_64-w64-mingw32-dlltool >/dev/null; then
    bash "$here/setup.sh"
  fi
  local packages=("$@") pkg failed=()
  ((${#packages[@]} > 0)) || mapfile -t packages < <(windows_packages)
  ((${#packages[@]} > 0)) || { echo "build-windows: no package has a \"windows\" section in native/build.json" >&2; exit 1; }
  for pkg in "${packages[@]}"; do
    echo "build-windows: $pkg"
    node "$AIO_REPO_ROOT/tooling/native/build-windows.mjs" --package "$AIO_REPO_ROOT/packages/$pkg" || failed+=("$pkg")
  done
  if ((${#failed[@]} > 0)); then
    echo "build-windows: FAILED for ${failed[*]}" >&2
    exit 1
  fi
}

main "$@"
