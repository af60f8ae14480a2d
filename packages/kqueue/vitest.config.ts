import { aioProject } from '../../tooling/vitest.shared.js';

// The global setup builds the emulated test addon (portable C + a fake
// kevent/aio provider) before any test file runs.
export default aioProject('@aio/kqueue', { globalSetup: ['./test/build-emulated.ts'] });
