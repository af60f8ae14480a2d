import { aioProject } from '../vitest.shared.js';

// TypeScript and CommonJS consumers of the built packages: each test runs tsc
// or a Node process over a small project made in a temporary folder.
export default aioProject('@aio/consumers', { testTimeout: 120_000 });
