# shellcheck shell=bash
# Sourced (never executed) by every script in tooling/windows/ and by backend
# packages that cross-build for win32-x64 and run tests under Wine.  It only
# sets variables: it neither installs nor checks anything (setup.sh does), so
# sourcing it is free and safe from any shell.
#
#   source tooling/windows/env.sh
#
# Exports:
#   AIO_REPO_ROOT          the workspace root (found from this file's location)
#   AIO_WIN_CACHE          repo-local cache for everything Windows (.cache/windows)
#   AIO_WIN_NODE_VERSION   the pinned official Windows Node build
#   AIO_WIN_NODE           path to that node.exe (extracted by setup.sh)
#   WINEPREFIX             a private Wine prefix, so nothing touches ~/.wine
#   WINEDEBUG=-all         Wine's fixme/err chatter would drown test output
#   WINEDLLOVERRIDES       see below
#   AIO_NODE_API_HEADERS   include dir of the npm package node-api-headers
#   AIO_NODE_API_DEF       node_api.def, the export list used for the import lib
#   AIO_NODE_ADDON_API     include dir of the npm package node-addon-api

AIO_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export AIO_REPO_ROOT

export AIO_WIN_CACHE="${AIO_WIN_CACHE:-$AIO_REPO_ROOT/.cache/windows}"
export AIO_WIN_NODE_VERSION="20.20.2"
# The version is part of the folder name so that bumping the pin can never
# reuse a stale node.exe from the cache.
export AIO_WIN_NODE="$AIO_WIN_CACHE/node-v$AIO_WIN_NODE_VERSION/node.exe"

export WINEPREFIX="$AIO_WIN_CACHE/prefix"
export WINEDEBUG=-all
# Wine offers to download Mono and Gecko whenever it creates or upgrades a
# prefix.  There is no internet here and Node needs neither, so disabling the
# two DLLs that trigger the offer keeps prefix creation fast and offline.
export WINEDLLOVERRIDES="mscoree=d;mshtml=d"

# The headers come from the @aio/native-build workspace package (pnpm links
# them into tooling/native/node_modules), so their versions sit in the lockfile.
AIO_NATIVE_MODULES="$AIO_REPO_ROOT/tooling/native/node_modules"
export AIO_NODE_API_HEADERS="$AIO_NATIVE_MODULES/node-api-headers/include"
export AIO_NODE_API_DEF="$AIO_NATIVE_MODULES/node-api-headers/def/node_api.def"
export AIO_NODE_ADDON_API="$AIO_NATIVE_MODULES/node-addon-api"
unset AIO_NATIVE_MODULES
