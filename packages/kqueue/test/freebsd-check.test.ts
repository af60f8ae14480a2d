/**
 * The FreeBSD addon cannot run here; this proves what can be proven on
 * Linux by running `pnpm check:freebsd` (scripts/check-freebsd.mjs):
 * compile with clang for x86_64-unknown-freebsd14 against the header shim,
 * link with lld, inspect the symbols.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

function have(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const missing = ['clang', 'ld.lld'].filter((tool) => !have(tool));

describe('kqueue: FreeBSD compile check', () => {
  it(
    'kqueue: the FreeBSD addon compiles, links and imports only Node-API, libuv and libc (compile-checked, not run)',
    (ctx) => {
      if (missing.length > 0) return ctx.skip(`${missing.join(' and ')} not installed (apt-get install clang lld)`);
      const script = fileURLToPath(new URL('../scripts/check-freebsd.mjs', import.meta.url));
      const output = execFileSync(process.execPath, [script], { encoding: 'utf8', timeout: 120_000 });
      expect(output).toContain('kevent@FBSD_1.5');
      expect(output).toContain('compile-checked for FreeBSD, not run');
    },
  );
});
