/**
 * A one-line progress bar on stderr.  It draws only when stderr is a terminal
 * (and the CLI turns it off for --json), redraws at most ten times a second,
 * and erases itself when a run ends so that it never mixes with the results.
 */
export interface Progress {
  /** Starts a phase of `seconds` described by `label`. */
  begin(label: string, seconds: number): void;
  /** Called from inside IO loops with performance.now(); cheap unless a redraw is due. */
  tick(now: number): void;
  /** Sets the phase's completion directly (0..1), for phases that are not timed by the bench itself. */
  set(fraction: number): void;
  end(): void;
}

const REDRAW_INTERVAL_MS = 100;
const BAR_WIDTH = 24;

export function createProgress(stream: NodeJS.WriteStream, enabled: boolean): Progress {
  return enabled && stream.isTTY ? new TerminalProgress(stream) : SILENT_PROGRESS;
}

export const SILENT_PROGRESS: Progress = {
  begin() {},
  tick() {},
  set() {},
  end() {},
};

class TerminalProgress implements Progress {
  private label = '';
  private startedAt = 0;
  private durationMs = 1;
  private lastDrawAt = -Infinity;
  private active = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  begin(label: string, seconds: number): void {
    this.label = label;
    this.startedAt = performance.now();
    this.durationMs = Math.max(1, seconds * 1000);
    this.lastDrawAt = -Infinity;
    this.active = true;
    this.draw(0);
  }

  tick(now: number): void {
    if (!this.active || now - this.lastDrawAt < REDRAW_INTERVAL_MS) return;
    this.lastDrawAt = now;
    this.draw((now - this.startedAt) / this.durationMs);
  }

  set(fraction: number): void {
    if (!this.active) return;
    this.lastDrawAt = performance.now();
    this.draw(fraction);
  }

  end(): void {
    if (!this.active) return;
    this.active = false;
    this.stream.write('\r\x1b[2K');
  }

  private draw(fraction: number): void {
    const clamped = Math.min(1, Math.max(0, fraction));
    const filled = Math.round(clamped * BAR_WIDTH);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
    const percent = `${Math.round(clamped * 100)}`.padStart(3);
    const width = this.stream.columns || 80;
    const line = `${bar} ${percent}% ${this.label}`.slice(0, width - 1);
    this.stream.write(`\r\x1b[2K${line}`);
  }
}
