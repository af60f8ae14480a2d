import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

/**
 * The settings every project shares: forked workers with --expose-gc (the
 * conformance suite forces collections to prove buffers stay alive), a
 * per-test timeout so a hung IO fails instead of stalling CI, and files run
 * one at a time inside a project because several tests mount filesystems or
 * change sysctls.
 */
export function aioProject(name: string, extra: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return defineProject({
    test: {
      name,
      include: ['test/**/*.test.ts'],
      pool: 'forks',
      execArgv: ['--expose-gc'],
      testTimeout: 30_000,
      hookTimeout: 30_000,
      fileParallelism: false,
      ...extra,
    },
  });
}
