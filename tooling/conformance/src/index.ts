/**
 * @aio/conformance: the one suite every IO method runs.
 *
 * `defineConformance(harness, method)` registers every case for one method,
 * named "<method>: <behaviour>".  The cases compare results with the sync
 * method where it matters (byte for byte), and every case ends with a leak
 * check (nothing handed out, staged or in flight; open fds unchanged).
 */
import type { Harness } from './harness.js';
import type { MethodUnderTest } from './methods.js';
import { defineAcquireAsyncCases } from './cases/acquire-async.js';
import { defineBatchCases } from './cases/batch.js';
import { defineCallbackCases } from './cases/callbacks.js';
import { defineEofCases } from './cases/eof.js';
import { defineErrorCases } from './cases/errors.js';
import { defineFileOpCases } from './cases/file-ops.js';
import { defineFullyCases } from './cases/fully.js';
import { defineHandleCases } from './cases/handles.js';
import { defineHelperCases } from './cases/helpers.js';
import { defineReadStreamCases } from './cases/read-stream.js';
import { defineReadStreamAllocateCases } from './cases/read-stream-allocate.js';
import { defineInjectionCases } from './cases/injection.js';
import { defineLifetimeCases } from './cases/lifetime.js';
import { defineMemorySafetyCases } from './cases/memory-safety.js';
import { defineMisuseCases } from './cases/misuse.js';
import { definePowerLossCases } from './cases/power-loss.js';
import { definePromiseApiCases } from './cases/promise-api.js';
import { defineRoundTripCases } from './cases/roundtrip.js';
import { defineWalCases } from './cases/wal.js';

export { loadMethod, selectedMethodNames, METHOD_PACKAGES, type MethodUnderTest } from './methods.js';
export { SkipCase, type Harness, type CaseContext } from './harness.js';
export { Fixture, defineCase, skipper } from './fixture.js';

export function defineConformance(harness: Harness, method: MethodUnderTest): void {
  harness.describe(method.name, () => {
    defineRoundTripCases(harness, method);
    defineEofCases(harness, method);
    defineFullyCases(harness, method);
    defineErrorCases(harness, method);
    defineHandleCases(harness, method);
    defineBatchCases(harness, method);
    defineCallbackCases(harness, method);
    defineInjectionCases(harness, method);
    definePromiseApiCases(harness, method);
    defineMisuseCases(harness, method);
    defineLifetimeCases(harness, method);
    defineMemorySafetyCases(harness, method);
    defineHelperCases(harness, method);
    defineAcquireAsyncCases(harness, method);
    defineWalCases(harness, method);
    definePowerLossCases(harness, method);
    defineReadStreamCases(harness, method);
    defineReadStreamAllocateCases(harness, method);
    defineFileOpCases(harness, method);
  });
}
