/**
 * The crash workload and its verifier.
 *
 * Each client runs transactions in sequence; transaction s of client c in run r:
 *   - puts KEYS_PER_TX keys `t/<r>.<c>/<s>/<j>`, each value naming the transaction and key;
 *   - deletes the keys of transaction s - KEEP (so old transactions disappear, again atomically);
 *   - sets the client's counter `c/<r>.<c>` to s.
 * A client's committed transactions are a prefix 0..last, and the counter is `last`.  So after a crash
 * the database must hold, for every client: counter >= every acknowledged s (else an acknowledged commit
 * was lost), every key of transactions last-KEEP+1..last, and no key of any other transaction (else a
 * transaction is half-applied or a deleted one came back).
 */
import type { Engine } from './engine.js';
import type { TxOp } from './btree.js';

export const KEYS_PER_TX = 3;
export const KEEP = 4;

export interface Ack {
  run: number;
  client: number;
  seq: number;
}

function txKey(run: number, client: number, seq: number, j: number): Buffer {
  return Buffer.from(`t/${run}.${client}/${String(seq).padStart(8, '0')}/${j}`);
}

function txValue(run: number, client: number, seq: number, j: number): Buffer {
  // Lengths vary so pages split at different points; the content is checkable.
  const text = `${run}.${client}.${seq}.${j}`;
  return Buffer.from(text.padEnd(24 + ((seq * 7 + j * 13) % 90), '#'));
}

function counterKey(run: number, client: number): Buffer {
  return Buffer.from(`c/${run}.${client}`);
}

export function txOps(run: number, client: number, seq: number): TxOp[] {
  const ops: TxOp[] = [];
  for (let j = 0; j < KEYS_PER_TX; j++) ops.push({ type: 'put', key: txKey(run, client, seq, j), value: txValue(run, client, seq, j) });
  if (seq >= KEEP) for (let j = 0; j < KEYS_PER_TX; j++) ops.push({ type: 'delete', key: txKey(run, client, seq - KEEP, j) });
  ops.push({ type: 'put', key: counterKey(run, client), value: Buffer.from(String(seq)) });
  return ops;
}

export interface WorkloadOptions {
  run: number;
  clients: number;
  /** Called after each acknowledged commit; returning false stops that client. */
  onAck: (ack: Ack) => boolean | void;
  /** Stops all clients when true. */
  stopped?: () => boolean;
  /** Transactions per client at most (default: until stopped or a failure). */
  maxPerClient?: number;
}

/** Runs the clients until stopped, a client's limit, or the engine fails (the crash). */
export async function runWorkload(engine: Engine, options: WorkloadOptions): Promise<number> {
  let commits = 0;
  const client = async (c: number): Promise<void> => {
    for (let seq = 0; seq < (options.maxPerClient ?? Infinity); seq++) {
      if (options.stopped?.() === true) return;
      try {
        await engine.commit(txOps(options.run, c, seq));
      } catch {
        return; // the crash (power cut: EIO) ends the client; nothing after it was acknowledged
      }
      commits++;
      if (options.onAck({ run: options.run, client: c, seq }) === false) return;
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, c) => client(c)));
  return commits;
}

export interface VerifyResult {
  lost: number;
  problems: string[];
  clients: number;
  keys: number;
}

/** Checks the database against the acknowledged commits (see the top of this file). */
export async function verifyWorkload(engine: Engine, acks: readonly Ack[]): Promise<VerifyResult> {
  const result: VerifyResult = { lost: 0, problems: [], clients: 0, keys: 0 };
  const problem = (text: string): void => {
    if (result.problems.length < 20) result.problems.push(text);
  };
  const counters = new Map<string, number>();
  for (const [key, value] of await engine.scan(Buffer.from('c/'), Buffer.from('c0'))) counters.set(key.toString().slice(2), Number(value.toString()));
  const present = new Map<string, Map<number, Set<number>>>();
  for (const [key, value] of await engine.scan(Buffer.from('t/'), Buffer.from('t0'))) {
    result.keys++;
    const [, who, seqText, jText] = key.toString().split('/');
    const [run, client] = who.split('.').map(Number);
    const seq = Number(seqText);
    const j = Number(jText);
    if (!value.equals(txValue(run, client, seq, j))) problem(`key ${key.toString()} holds a wrong value`);
    let bySeq = present.get(who);
    if (bySeq === undefined) present.set(who, (bySeq = new Map()));
    let keys = bySeq.get(seq);
    if (keys === undefined) bySeq.set(seq, (keys = new Set()));
    keys.add(j);
  }
  const maxAcked = new Map<string, number>();
  for (const ack of acks) {
    const who = `${ack.run}.${ack.client}`;
    maxAcked.set(who, Math.max(maxAcked.get(who) ?? -1, ack.seq));
  }
  const clients = new Set([...counters.keys(), ...present.keys(), ...maxAcked.keys()]);
  result.clients = clients.size;
  for (const who of clients) {
    const last = counters.get(who) ?? -1;
    const acked = maxAcked.get(who) ?? -1;
    if (acked > last) {
      result.lost += acked - last;
      problem(`client ${who}: acknowledged up to transaction ${acked}, the database has ${last}: ${acked - last} lost`);
    }
    const bySeq = present.get(who) ?? new Map<number, Set<number>>();
    for (let seq = Math.max(0, last - KEEP + 1); seq <= last; seq++) {
      const keys = bySeq.get(seq)?.size ?? 0;
      if (keys !== KEYS_PER_TX) problem(`client ${who}: transaction ${seq} has ${keys} of ${KEYS_PER_TX} keys (half-applied)`);
    }
    for (const seq of bySeq.keys()) {
      if (seq > last || seq <= last - KEEP) problem(`client ${who}: transaction ${seq} is present but the counter says ${last} (half-applied or resurrected)`);
    }
  }
  return result;
}
