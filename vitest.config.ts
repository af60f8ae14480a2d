import { defineConfig } from 'vitest/config';

// One root configuration; every package and tooling folder that has tests is
// its own project, so `vitest run --project @aio/core` runs one of them and a
// bare `vitest run` runs them all.  Tests run in forked child processes with
// --expose-gc so that tests can prove buffers stay alive while the kernel owns
// them.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'tooling/*/vitest.config.ts'],
  },
});
