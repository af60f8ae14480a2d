/**
 * @aio/fs: node:fs/promises' FileHandle API on aio.  Changing
 * `import { open } from 'node:fs/promises'` to `import { open } from '@aio/fs'`
 * is all a program needs.  See README.md for what is the same and what differs.
 */
export { open, readFile, writeFile, appendFile } from './open.js';
export type { AioOpenOptions } from './open.js';
export { FileHandle } from './file-handle.js';
export type { FileReadOptions, FileReadResult, FileWriteOptions, FileWriteResult, ReadVResult, WriteVResult } from './file-handle.js';
export { configure, setContext, getContext, closeContext } from './context.js';
export type { AioFsConfiguration } from './context.js';
export type { FileOptions } from './validate.js';

// The direct-I/O helpers: buffers that O_DIRECT accepts on every method.
export { allocAligned, AlignedPagePool } from '@aio/core';

// The rest of node:fs/promises, unchanged, so that `import { open, stat, unlink } from '@aio/fs'` works too.
export {
  access,
  chmod,
  chown,
  constants,
  copyFile,
  cp,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  mkdtemp,
  opendir,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  statfs,
  symlink,
  truncate,
  unlink,
  utimes,
  watch,
} from 'node:fs/promises';
