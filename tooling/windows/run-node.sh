#!/usr/bin/env bash
# Runs the official Windows node.exe under Wine with the given arguments, from
# the current directory, and exits with node's exit code.
#
#   tooling/windows/run-node.sh --test path/to/some.test.mjs
#
# Paths: Wine maps the Unix root to drive Z: and passes the working directory
# through, so relative paths work, and an absolute /work/x is read by Windows
# Node as \work\x on the current drive, which is Z: as well.
#
# Pipes: Windows Node under Wine 8 cannot use a Unix pipe, FIFO or socket as
# stdin, stdout or stderr: the first use of process.stdout (console.log) throws
# "Error: open EBADF" from net.Socket.  Regular files and /dev/null work.  CI,
# turbo, `| tee` and `$(...)` all hand over pipes, so when any of the three is
# one, node's output goes to temporary files that `tail -f` copies to the real
# stdout and stderr while it runs, and stdin becomes /dev/null.  Order within
# each stream is kept; order between stdout and stderr may not be.
#
# Symlinks: Wine 8 shows Unix symlinks to Windows programs as plain folders, so
# Windows Node never sees a real path, and in pnpm's layout a package's own
# dependencies are reachable only from its real path (--preserve-symlinks
# cannot help: it is already what Node gets).  So, unless
# AIO_WIN_PNPM_REALPATH=0, this script records every symlink under the repo
# (and under the working directory when outside the repo) with its real path
# (pnpm-realpath/make-map.mjs, ~0.2 s), and NODE_OPTIONS=--import loads
# pnpm-realpath/preload.mjs into every Windows Node process, which applies the
# table to CommonJS and ESM resolution.  See README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/env.sh
source "$here/env.sh"

# Windows spelling of a Unix path: a default Wine prefix maps "/" to Z:.
to_windows() { printf 'Z:%s' "${1//\//\\}"; }

apply_pnpm_realpath() {
  [[ ${AIO_WIN_PNPM_REALPATH:-1} != 0 ]] || return 0
  local roots=("$AIO_REPO_ROOT") key map
  [[ $PWD == "$AIO_REPO_ROOT" || $PWD == "$AIO_REPO_ROOT"/* ]] || roots+=("$PWD")
  # NODE_OPTIONS splits on spaces and the file URL below is not escaped.
  [[ $here =~ ^[A-Za-z0-9._/@+-]+$ ]] || { echo "run-node.sh: repo path '$here' has characters NODE_OPTIONS cannot carry; set AIO_WIN_PNPM_REALPATH=0" >&2; exit 2; }
  # One file per set of roots, so parallel runs from other folders never
  # swap tables under each other; same roots give the same content.
  key="$(printf '%s\n' "${roots[@]}" | cksum | cut -d' ' -f1)"
  map="$AIO_WIN_CACHE/symlinks-$key.json"
  node "$here/pnpm-realpath/make-map.mjs" "$map" "${roots[@]}"
  AIO_WIN_SYMLINK_MAP="$(to_windows "$map")"
  export AIO_WIN_SYMLINK_MAP
  export NODE_OPTIONS="--import=file:///Z:$here/pnpm-realpath/preload.mjs${NODE_OPTIONS:+ $NODE_OPTIONS}"
}

is_pipe_or_socket() { [[ -p /dev/fd/$1 || -S /dev/fd/$1 ]]; }

run_direct() {
  exec wine "$AIO_WIN_NODE" "$@"
}

run_relayed() {
  local dir node_pid rc=0 tails=()
  dir="$(mktemp -d "${TMPDIR:-/tmp}/aio-run-node.XXXXXX")"
  : >"$dir/out"
  : >"$dir/err"
  wine "$AIO_WIN_NODE" "$@" >"$dir/out" 2>"$dir/err" &
  node_pid=$!
  # A CI timeout or Ctrl-C must stop node, not just this script.
  trap 'kill "$node_pid" 2>/dev/null || true' INT TERM HUP
  # --pid makes tail read to the end of the file after node exits, then stop;
  # -s 0.1 keeps that last poll from adding a second to every run.
  tail -s 0.1 -c +1 -f --pid="$node_pid" "$dir/out" &
  tails+=($!)
  tail -s 0.1 -c +1 -f --pid="$node_pid" "$dir/err" >&2 &
  tails+=($!)
  wait "$node_pid" || rc=$?
  wait "${tails[@]}" || true
  rm -rf "$dir"
  exit "$rc"
}

main() {
  if [[ ! -s $AIO_WIN_NODE || ! -f $WINEPREFIX/.aio-win10 ]]; then
    echo "run-node.sh: Windows node.exe or Wine prefix missing; run tooling/windows/setup.sh first" >&2
    exit 2
  fi
  # Pipes and sockets on stdin are replaced rather than relayed: copying stdin
  # to a file first would hang on interactive input, and tests never read it.
  # A closed stdin is replaced too, so node never sees a stale descriptor 0.
  if [[ ! -e /dev/fd/0 ]] || is_pipe_or_socket 0; then exec </dev/null; fi
  apply_pnpm_realpath
  if is_pipe_or_socket 1 || is_pipe_or_socket 2; then
    run_relayed "$@"
  else
    run_direct "$@"
  fi
}

main "$@"
