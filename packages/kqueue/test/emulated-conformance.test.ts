/**
 * The project's conformance suite (tooling/conformance) against the emulated
 * kqueue method: the real portable C of this package over the fake
 * kevent/aio provider, compared with the sync method byte for byte.  The
 * real method is run by `pnpm conformance kqueue`, which skips it off
 * FreeBSD; this file is how its C is held to the same suite on Linux.
 *
 * The cases that load the method by name in another thread or process
 * (worker_threads, process exit, a terminated worker's descriptors) load the
 * real @aio/kqueue there (its built dist/): importing ./emulated.js set
 * AIO_KQUEUE_ADDON to the emulated build, which those threads and processes
 * inherit, so they run the same emulated method as this one.
 */
import { describe, it } from 'vitest';
import { defineConformance, SkipCase, skipper, type Harness } from '@aio/conformance';
import { emulatedKqueue } from './emulated.js';

const harness: Harness = {
  describe: (name, fn) => void describe(`${name} (emulated)`, fn),
  test: (name, fn, timeoutMs) => {
    const emulatedName = name.replace(/^kqueue: /, 'kqueue (emulated): ');
    void it(
      emulatedName,
      async (context) => {
        try {
          await fn(skipper(emulatedName, (reason) => context.skip(reason)));
        } catch (error) {
          if (!(error instanceof SkipCase)) throw error;
        }
      },
      timeoutMs,
    );
  },
};

defineConformance(harness, { name: 'kqueue', factory: emulatedKqueue() });
