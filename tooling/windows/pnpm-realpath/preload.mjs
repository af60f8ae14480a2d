// Loaded into every Windows Node process through NODE_OPTIONS=--import by
// run-node.sh (so `node --test` children and worker threads get it too).  It
// makes module resolution see the real paths recorded by make-map.mjs:
//   - CommonJS: Node's CJS loader calls fs.realpathSync on each resolved file
//     through the fs module object, so wrapping that function is enough.
//   - ESM: the ESM resolver holds its own reference to realpathSync, so a
//     resolve hook (hooks.mjs) rewrites each resolved URL instead.
// Without AIO_WIN_SYMLINK_MAP this file does nothing.
import fs from 'node:fs';
import { register } from 'node:module';
import { createRealPath } from './real-path.mjs';

const mapFile = process.env.AIO_WIN_SYMLINK_MAP;
if (mapFile) {
  const links = JSON.parse(fs.readFileSync(mapFile, 'utf8'));
  const toReal = createRealPath(links);
  const wrap = (original) => {
    const wrapped = (p, options) => toReal(original(p, options));
    return Object.assign(wrapped, original);
  };
  const native = fs.realpathSync.native;
  fs.realpathSync = wrap(fs.realpathSync);
  fs.realpathSync.native = wrap(native);
  register('./hooks.mjs', { parentURL: import.meta.url, data: { links } });
}
