#!/usr/bin/env node
/**
 * Publishes what pack.mjs packed: `node tooling/release/publish.mjs
 * [--dir <folder>] [--dry-run] [--require-all]`.
 *
 * Order matters: the platform packages first (a backend's optional
 * dependencies must exist before the backend does), then @aio/core, the
 * backends, @aio/auto and @aio/fs.  A version already on the registry is
 * skipped, so a release that failed half-way can be run again.  On GitHub
 * Actions the tarballs are published with provenance (the release workflow
 * grants `id-token: write`); elsewhere without, since npm can only attest
 * builds it can trace to a CI run.
 *
 * --require-all refuses to publish when a platform package could not be
 * packed (its binary missing): the release workflow passes it, after
 * collecting every platform's binaries, so that a release never ships
 * without, say, the arm64 build.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const args = { dir: join(here, 'out'), dryRun: false, requireAll: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--dir') args.dir = resolve(argv[++i]);
    else if (argv[i] === '--dry-run') args.dryRun = true;
    else if (argv[i] === '--require-all') args.requireAll = true;
    else throw new Error(`unknown argument ${argv[i]} (use --dir <folder>, --dry-run, --require-all)`);
  }
  return args;
}

/** Whether name@version is already on the registry. */
function published(name, version) {
  const result = spawnSync('npm', ['view', `${name}@${version}`, 'version', '--json'], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.trim() !== '';
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const manifest = JSON.parse(readFileSync(join(args.dir, 'manifest.json'), 'utf8'));
  if (manifest.missing.length > 0) {
    const list = manifest.missing.map((entry) => `  ${entry.name}: ${entry.reason}`).join('\n');
    if (args.requireAll) throw new Error(`not publishing: platform packages are missing:\n${list}`);
    console.warn(`publishing without these platform packages (their backends do not list them):\n${list}`);
  }
  const provenance = process.env.GITHUB_ACTIONS === 'true' ? ['--provenance'] : [];
  for (const entry of [...manifest.platforms, ...manifest.packages]) {
    if (!args.dryRun && published(entry.name, entry.version)) {
      console.log(`skip     ${entry.name}@${entry.version} (already published)`);
      continue;
    }
    const command = ['publish', join(args.dir, entry.file), '--access', 'public', ...provenance, ...(args.dryRun ? ['--dry-run'] : [])];
    console.log(`publish  ${entry.name}@${entry.version}${args.dryRun ? ' (dry run)' : ''}`);
    execFileSync('npm', command, { stdio: 'inherit' });
  }
}

try {
  main();
} catch (error) {
  console.error(`release: ${error.message}`);
  process.exit(1);
}
