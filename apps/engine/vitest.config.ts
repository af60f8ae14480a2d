import { aioProject } from '../../tooling/vitest.shared.js';

export default aioProject('@aio/engine', { testTimeout: 120_000 });
