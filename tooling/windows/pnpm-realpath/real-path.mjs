// Shared by preload.mjs and hooks.mjs: maps a Windows path that may pass
// through symlinks to its real path, using the { linkPath: realPath } table
// from make-map.mjs.  Only paths inside the mapped roots are rewritten.

/** Returns a function (windowsPath) => realWindowsPath. */
export function createRealPath(links) {
  const table = new Map(Object.entries(links));

  // The longest prefix of p (p itself, then each parent) that is a link.
  const linkPrefix = (p) => {
    for (let end = p.length; end > 3; end = p.lastIndexOf('\\', end - 1)) {
      const prefix = p.slice(0, end);
      if (table.has(prefix)) return prefix;
    }
    return null;
  };

  return (p) => {
    if (typeof p !== 'string' || table.size === 0) return p;
    // Windows Node may spell the drive "z:"; the table uses "Z:".
    let current = /^[a-z]:/.test(p) ? p[0].toUpperCase() + p.slice(1) : p;
    // A real target can still contain links further down (a workspace
    // package's own node_modules), hence the loop; the bound stops a cycle.
    for (let hop = 0; hop < 64; hop++) {
      const prefix = linkPrefix(current);
      if (prefix === null) return current;
      current = table.get(prefix) + current.slice(prefix.length);
    }
    return current;
  };
}
