/**
 * The suite under node:test, for platforms where vitest cannot run (the
 * Windows node.exe under Wine).  Usage:
 *   node --test --expose-gc dist/node-test.js        (AIO_CONFORMANCE_METHODS selects methods)
 */
import { describe, test } from 'node:test';
import { defineConformance } from './index.js';
import { SkipCase, type Harness } from './harness.js';
import { skipper } from './fixture.js';
import { loadMethod, selectedMethodNames } from './methods.js';

const harness: Harness = {
  describe: (name, fn) => void describe(name, fn),
  test: (name, fn, timeoutMs) =>
    void test(name, { timeout: timeoutMs ?? 120_000 }, async (t) => {
      try {
        await fn(skipper(name, (reason) => t.skip(reason)));
      } catch (error) {
        if (!(error instanceof SkipCase)) throw error;
      }
    }),
};

for (const name of selectedMethodNames()) defineConformance(harness, await loadMethod(name));
