/** One IO through the handle API, waited for: the building block of most cases. */
import { AioReturn, AioWaitRef, type Aio, type AioFile } from '@aio/core';

export type Op =
  | { op: 'read' | 'write'; buffer: ArrayBufferView; offset: number; length?: number }
  | { op: 'readv' | 'writev'; buffers: ArrayBufferView[]; offset: number }
  | { op: 'fsync' | 'fdatasync' };

/** Starts one IO on a fresh handle and returns its wait reference and return object. */
export function startOp(aio: Aio, file: AioFile, op: Op): { ref: AioWaitRef; ret: AioReturn } {
  const ret = new AioReturn();
  const ref = new AioWaitRef();
  const handle = aio.acquire(ret);
  handle.getWaitRef(ref);
  switch (op.op) {
    case 'read':
      handle.startRead(file, op.buffer, op.offset, op.length);
      break;
    case 'write':
      handle.startWrite(file, op.buffer, op.offset, op.length);
      break;
    case 'readv':
      handle.startReadv(file, op.buffers, op.offset);
      break;
    case 'writev':
      handle.startWritev(file, op.buffers, op.offset);
      break;
    case 'fsync':
      handle.startFsync(file);
      break;
    case 'fdatasync':
      handle.startFdatasync(file);
      break;
  }
  return { ref, ret };
}

/** Runs one IO and waits for it with the Promise wait; returns the filled return object. */
export async function runOp(aio: Aio, file: AioFile, op: Op): Promise<AioReturn> {
  const { ref, ret } = startOp(aio, file, op);
  await ref.wait();
  return ret;
}

/** Runs one IO and waits for it by blocking the thread. */
export function runOpSync(aio: Aio, file: AioFile, op: Op): AioReturn {
  const { ref, ret } = startOp(aio, file, op);
  ref.waitSync();
  return ret;
}
