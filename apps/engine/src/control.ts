/**
 * The control file: where recovery starts (the redo pointer of the last completed checkpoint).
 *
 * Two 512-byte slots written in turn, each with a sequence number and a CRC, updated in place and
 * fsynced.  A write torn by a power cut damages only the slot being written, whose CRC then fails, and
 * the other slot (the previous checkpoint, still valid because its pages were synced too) is used.
 * This needs no rename, so every byte of it goes through aio, where the power-loss simulator sees it.
 */
import { crc32c, type Aio, type AioFile } from '@aio/core';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SLOT_SIZE = 512;
const MAGIC = 0x4c54434e; // 'NCTL'

export interface ControlState {
  /** Increases by one per checkpoint. */
  seq: number;
  /** The WAL position recovery reads from. */
  redo: number;
}

export class ControlFile {
  #file: AioFile;
  #seq: number;

  private constructor(file: AioFile, seq: number) {
    this.#file = file;
    this.#seq = seq;
  }

  static async open(aio: Aio, dir: string): Promise<{ control: ControlFile; state: ControlState | null }> {
    const file = aio.open(path.join(dir, 'control'), { read: true, write: true, create: true });
    const image = Buffer.alloc(SLOT_SIZE * 2);
    const bytes = await file.read(image, 0);
    const slots = [0, 1].map((i) => decodeSlot(image.subarray(i * SLOT_SIZE, (i + 1) * SLOT_SIZE), bytes >= (i + 1) * SLOT_SIZE));
    const valid = slots.filter((slot): slot is ControlState => slot !== null).sort((a, b) => b.seq - a.seq);
    const state = valid[0] ?? null;
    return { control: new ControlFile(file, state?.seq ?? 0), state };
  }

  /** Records a completed checkpoint durably; resolves only after the sync. */
  async write(redo: number): Promise<void> {
    const seq = this.#seq + 1;
    const slot = Buffer.alloc(SLOT_SIZE);
    slot.writeUInt32LE(MAGIC, 4);
    slot.writeDoubleLE(seq, 8);
    slot.writeDoubleLE(redo, 16);
    slot.writeUInt32LE(crc32c(slot.subarray(4)), 0);
    await this.#file.writeFully(slot, (seq % 2) * SLOT_SIZE);
    await this.#file.sync();
    this.#seq = seq;
  }

  close(): Promise<void> {
    return this.#file.close();
  }
}

function decodeSlot(slot: Buffer, present: boolean): ControlState | null {
  if (!present || slot.readUInt32LE(4) !== MAGIC) return null;
  if (crc32c(slot.subarray(4)) !== slot.readUInt32LE(0)) return null;
  return { seq: slot.readDoubleLE(8), redo: slot.readDoubleLE(16) };
}

/** Whether dir holds an engine (a control file). */
export function hasControlFile(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'control'));
}
