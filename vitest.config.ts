import { defineConfig } from 'vitest/config';

// One root configuration; every package and tooling folder that has tests is
// its own project, so `vitest run --project @aio/core` runs one of them and a
// bare `vitest run` runs them all.  Tests run in forked child processes with
// --expose-gc so that tests can prove buffers stay alive while the kernel owns
// them.
//
// One test file at a time, across all projects: some tests change machine-wide
// state (kernel.io_uring_disabled, a tmpfs mount) that would break another
// project's io_uring tests running at the same moment, and benchmark-like
// cases measure nothing useful on 2 busy cores anyway.
export default defineConfig({
  test: {
    maxWorkers: 1,
    projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'tooling/*/vitest.config.ts'],
  },
});
