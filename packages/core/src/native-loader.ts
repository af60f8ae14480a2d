/**
 * Finding and loading a backend's compiled addon.  Kept apart from the
 * method glue (native-method.ts) because where a binary comes from is a
 * packaging question: a local build today, per-platform packages later.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Loads a backend's addon from `build/Release/<name>.node` (or
 * `build/win32-x64/<name>.node` on Windows) next to the package's `dist/`;
 * with AIO_NATIVE_VARIANT=asan, from `build/asan/` (the memory-check build,
 * run with the sanitizer runtime preloaded).  Returns the binding, or the
 * reason it could not be loaded: the reason the build recorded when it
 * skipped (`<name>.skipped`), or the loader's error.
 */
export function loadNativeBinding<T>(packageUrl: string | URL, name: string): { binding: T } | { reason: string } {
  const folder = process.env.AIO_NATIVE_VARIANT === 'asan' ? 'asan' : process.platform === 'win32' ? `win32-${process.arch}` : 'Release';
  const path = fileURLToPath(new URL(`../build/${folder}/${name}.node`, packageUrl));
  try {
    return { binding: createRequire(packageUrl)(path) as T };
  } catch (error) {
    let skipped: string | undefined;
    try {
      skipped = readFileSync(path.replace(/\.node$/, '.skipped'), 'utf8').trim();
    } catch {
      // No skip record: the addon was expected and failed to load.
    }
    if (skipped !== undefined) return { reason: `addon not built: ${skipped}` };
    return { reason: `addon failed to load: ${(error as Error).message.split('\n')[0]}` };
  }
}
