/**
 * Vitest global setup: builds the emulated kqueue addon (the portable C of
 * native/ plus the fake kevent/aio provider of test/emulated/native) with the
 * kit's build driver, so the tests exercise the real C code.  The driver only
 * compares sources with the output, so a changed header forces a rebuild here.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const emulated = join(here, 'emulated');
const driver = join(here, '..', '..', '..', 'tooling', 'native', 'build.mjs');

function headers(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.h'))
    .map((name) => join(dir, name));
}

export default function setup(): void {
  if (process.platform === 'win32') return;
  for (const variant of ['Release', 'asan']) {
    const output = join(emulated, 'build', variant, 'aio_kqueue_emulated.node');
    if (!existsSync(output)) continue;
    const built = statSync(output).mtimeMs;
    const changed = [...headers(join(here, '..', 'native')), ...headers(join(emulated, 'native'))].some((h) => statSync(h).mtimeMs > built);
    if (changed) rmSync(output);
  }
  const variant = process.env.AIO_KQUEUE_EMULATED_VARIANT === 'asan' ? ['--variant', 'asan'] : [];
  execFileSync(process.execPath, [driver, ...variant], { cwd: emulated, stdio: 'inherit' });
}
