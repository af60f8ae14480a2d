#!/usr/bin/env bash
# Installs everything aio needs on this machine, then builds it:
#   - system packages (as root, with apt-get): liburing-dev (io_uring), fio (the
#     benchmark's reference), clang + lld (the FreeBSD compile check), and the
#     Windows toolchain (mingw-w64, Wine, the Windows node.exe) through
#     tooling/windows/setup.sh;
#   - the cross toolchains and extra Node binaries through
#     tooling/cross/setup.sh: the aarch64 cross compiler, qemu-user and the
#     arm64 cross libraries (apt, as root), liburing for arm64 (Debian's
#     package, unpacked), Zig for musl, the official Node 22, 24 and arm64
#     20 (npm), all cached under .cache/; skip with AIO_SKIP_CROSS=1;
#   - pnpm (pinned), the workspace's dependencies (frozen lockfile);
#   - every package, native addons included (turbo run build).
# Without root it installs nothing system-wide and says what is missing; the
# build then skips what it cannot build, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=10.34.8
APT_PACKAGES=(liburing-dev fio clang lld)

log() { printf 'setup: %s\n' "$*"; }

missing_apt_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$pkg"
  done
}

install_system_packages() {
  if ! command -v apt-get >/dev/null; then
    log "no apt-get here: install liburing (headers), fio, clang and lld with your package manager"
    return
  fi
  mapfile -t missing < <(missing_apt_packages "${APT_PACKAGES[@]}")
  if [ "${#missing[@]}" -eq 0 ]; then
    log "system packages present: ${APT_PACKAGES[*]}"
  elif [ "$(id -u)" -ne 0 ]; then
    log "not root: cannot install ${missing[*]} (the io_uring build and fio baselines are skipped without them)"
  else
    log "installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends "${missing[@]}"
  fi
}

install_pnpm() {
  if command -v pnpm >/dev/null && [ "$(pnpm --version)" = "$PNPM_VERSION" ]; then
    log "pnpm $PNPM_VERSION present"
    return
  fi
  log "installing pnpm $PNPM_VERSION"
  npm install -g --no-fund --no-audit "pnpm@$PNPM_VERSION" >/dev/null
}

install_system_packages
install_pnpm
log "installing dependencies"
pnpm install --frozen-lockfile
# The Windows toolchain needs the Node-API headers from the npm packages above.
if [ "${AIO_SKIP_WINDOWS:-0}" != "1" ]; then
  bash tooling/windows/setup.sh
fi
if [ "${AIO_SKIP_CROSS:-0}" != "1" ]; then
  bash tooling/cross/setup.sh
fi
log "building every package"
pnpm build
log "done"
