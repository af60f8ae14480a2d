import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const script = fileURLToPath(new URL('../scripts/fork-check.mjs', import.meta.url));

it('threadpool: a child forked while IO runs through the pool gets a fresh pool of its own (pthread_atfork)', (context) => {
  // Node never forks a running process, so the check is a small native program
  // built from the pool's own sources (see test/native/fork-check.cc).
  const run = spawnSync(process.execPath, [script, '100'], { encoding: 'utf8', timeout: 120_000 });
  if (run.status === 77) {
    console.log(run.stdout.trim());
    context.skip(run.stdout.trim());
  }
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  expect(run.stdout).toMatch(/fork-check: ok: 100 forks/);
}, 120_000);
