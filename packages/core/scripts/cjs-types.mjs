/**
 * CommonJS type declarations for TypeScript consumers on `moduleResolution:
 * node16`.  That mode predates require(esm): from a CommonJS file it resolves
 * a package's "require" condition and refuses ES-module declarations.  The
 * JavaScript is the same for both (Node >= 20.19 loads it with require(esm));
 * only the declarations must say "CommonJS", so they are copied into
 * dist/cjs-types/, whose package.json marks that folder as CommonJS.
 * Run after `tsc -b`; the exports map's "require" conditions point here.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const target = `${dist}cjs-types/`;
rmSync(target, { recursive: true, force: true });
mkdirSync(target);
for (const name of readdirSync(dist)) if (name.endsWith('.d.ts')) copyFileSync(`${dist}${name}`, `${target}${name}`);
writeFileSync(`${target}package.json`, '{ "type": "commonjs" }\n');
