import { aioProject } from '../vitest.shared.js';

// The packed packages installed the way a user installs them: npm, fresh
// projects, no registry, no compiler.  Packing and the npm installs take
// tens of seconds on 2 cores, hence the longer timeouts.
export default aioProject('@aio/release', { testTimeout: 120_000, hookTimeout: 180_000 });
