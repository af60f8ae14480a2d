#!/usr/bin/env bash
# The main job, from a fresh machine: install and build everything, then run
# the default benchmark (randread hot and direct, seqread, writeback, wal) on
# the auto-selected method next to node:fs and fio.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec pnpm start
