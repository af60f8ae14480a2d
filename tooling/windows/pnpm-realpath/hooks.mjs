// ESM resolve hook (runs on Node's loader thread); see preload.mjs.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRealPath } from './real-path.mjs';

let toReal = (p) => p;

export function initialize({ links }) {
  toReal = createRealPath(links);
}

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (!result.url.startsWith('file:')) return result;
  const resolvedPath = fileURLToPath(result.url);
  const realPath = toReal(resolvedPath);
  if (realPath === resolvedPath) return result;
  // Keep any ?query or #hash the URL had; only the path changes.
  const url = new URL(result.url);
  const real = pathToFileURL(realPath);
  real.search = url.search;
  real.hash = url.hash;
  return { ...result, url: real.href };
}
