/**
 * The few test-runner functions the suite needs, so the same cases run
 * under vitest (Linux, `pnpm conformance <method>`) and under node:test
 * (the Windows node.exe under Wine, which cannot run vitest's toolchain).
 * Assertions use node:assert/strict everywhere.
 */
export interface CaseContext {
  /** Marks the running case skipped with a reason, prints the reason, and stops the case. */
  skip(reason: string): never;
}

export interface Harness {
  describe(name: string, fn: () => void): void;
  test(name: string, fn: (context: CaseContext) => Promise<void>, timeoutMs?: number): void;
}

/** Thrown by CaseContext.skip to stop a case; the runner adapters catch it. */
export class SkipCase extends Error {
  constructor(readonly reason: string) {
    super(`skipped: ${reason}`);
  }
}

/** Prints a skip so that every skip says why, whatever the runner's reporter shows. */
export function announceSkip(name: string, reason: string): void {
  process.stdout.write(`SKIP ${name}: ${reason}\n`);
}
