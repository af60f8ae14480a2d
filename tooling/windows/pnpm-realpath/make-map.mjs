// Runs under the *Linux* node (run-node.sh calls it before starting Windows
// Node).  Wine 8 shows Unix symlinks to Windows programs as plain folders, so
// Windows Node cannot find a file's real path, and pnpm's layout needs real
// paths: a package's dependencies are its siblings in
// node_modules/.pnpm/<pkg>@<version>/node_modules/, reachable only from the
// package's real location.  This script records every symlink under the given
// roots with its real path, both in Windows form (Unix "/" is drive Z: in a
// default Wine prefix), for preload.mjs to apply inside Windows Node.
//
//   node make-map.mjs <out.json> <root>...
import { readdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// .cache holds the Wine prefix, whose dosdevices links point at "/".
const SKIP = new Set(['.git', '.cache', '.turbo']);

const toWindows = (unixPath) => `Z:${unixPath.replaceAll('/', '\\')}`;

function collect(dir, links) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // unreadable or vanished while walking: nothing to map there
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) {
      try {
        links[toWindows(full)] = toWindows(realpathSync(full));
      } catch {
        // A dangling link resolves nowhere, in Linux Node as well.
      }
    } else if (entry.isDirectory() && !SKIP.has(entry.name)) {
      collect(full, links);
    }
  }
}

const [out, ...roots] = process.argv.slice(2);
const links = {};
for (const root of roots) collect(path.resolve(root), links);
// Written under a temporary name and renamed, so a run-node.sh started at the
// same moment never reads half a file.
const partial = `${out}.${process.pid}.tmp`;
writeFileSync(partial, JSON.stringify(links));
renameSync(partial, out);
