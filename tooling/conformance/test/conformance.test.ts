/**
 * The suite under vitest: every method selected by AIO_CONFORMANCE_METHODS
 * (default: all of them; methods that cannot run here skip every case with
 * the reason).  `pnpm conformance <method>` runs one method.
 */
import { describe, it } from 'vitest';
import { defineConformance, loadMethod, selectedMethodNames, SkipCase, skipper, type Harness } from '../src/index.js';

const harness: Harness = {
  describe: (name, fn) => void describe(name, fn),
  test: (name, fn, timeoutMs) =>
    void it(
      name,
      async (context) => {
        try {
          await fn(skipper(name, (reason) => context.skip(reason)));
        } catch (error) {
          if (!(error instanceof SkipCase)) throw error;
        }
      },
      timeoutMs,
    ),
};

for (const name of selectedMethodNames()) defineConformance(harness, await loadMethod(name));
