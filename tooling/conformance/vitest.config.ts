import { aioProject } from '../vitest.shared.js';

// Every method's conformance run lives in this one project.  Tests that
// mount a filesystem or spawn children are in here too, so files run one at
// a time (aioProject's fileParallelism: false).
export default aioProject('@aio/conformance', { testTimeout: 120_000 });
