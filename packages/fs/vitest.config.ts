import { aioProject } from '../../tooling/vitest.shared.js';

export default aioProject('@aio/fs');
