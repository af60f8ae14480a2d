/**
 * Progress on long work: a counter line on stderr ("crash: 12/50 kills"), redrawn at most five times a
 * second and only on a terminal; silent with --json or when stderr is a pipe.
 */
export interface Progress {
  update(done: number, total: number, note?: string): void;
  done(): void;
}

export function progressLine(label: string, enabled: boolean): Progress {
  const stream = process.stderr;
  if (!enabled || !stream.isTTY) return { update() {}, done() {} };
  let last = 0;
  let drawn = false;
  return {
    update(done, total, note = '') {
      const now = Date.now();
      if (now - last < 200 && done < total) return;
      last = now;
      drawn = true;
      stream.write(`\r\x1b[K${label}: ${done}/${total} ${note}`);
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
