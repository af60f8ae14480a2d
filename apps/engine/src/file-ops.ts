/**
 * File operations the engine needs besides reads, writes and syncs: a file's size, and making the
 * creation of its files durable.  Both go through the aio method (core's `file.size()`, a `stat` IO, and
 * `aio.syncDirectory()`, an fsync IO on the directory); they were added to core while this engine was
 * written, and this module was the one place that used node:fs for them until then.
 */
import type { Aio, AioFile } from '@aio/core';

/** The file's size in bytes. */
export function fileSize(file: AioFile): Promise<number> {
  return file.size();
}

/** Makes the creation of files in `dir` durable (fsync of the directory). */
export function syncDirectory(aio: Aio, dir: string): Promise<void> {
  return aio.syncDirectory(dir);
}
