/**
 * A one-line progress bar on stderr for long seals and decrypts: shown only when stderr is a TTY,
 * only after the operation has run for DELAY_MS (short jobs stay silent), and redrawn at most
 * every REDRAW_MS. Deliberately not here: ETA prediction or multi-line layouts.
 */
import type { Terminal } from './Terminal.ts';

export const DELAY_MS = 1500;
const REDRAW_MS = 100;
const WIDTH = 24;

export class Progress {
  readonly #t: Terminal;
  readonly #label: string;
  readonly #start: number;
  #last = -Infinity;
  #shown = false;

  constructor(t: Terminal, label: string) {
    this.#t = t;
    this.#label = label;
    this.#start = t.now();
  }

  get enabled(): boolean {
    return this.#t.stderr.isTTY === true;
  }

  update(done: number, total: number): void {
    if (!this.enabled) return;
    const now = this.#t.now();
    if (now - this.#start < DELAY_MS || now - this.#last < REDRAW_MS) return;
    this.#last = now;
    this.#shown = true;
    this.#t.stderr.write(`\r${render(this.#label, done, total, (now - this.#start) / 1000)}`);
  }

  /** Clears the line if anything was drawn. */
  end(): void {
    if (this.#shown) this.#t.stderr.write('\r\x1b[K');
    this.#shown = false;
  }
}

export function render(label: string, done: number, total: number, seconds: number): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * WIDTH);
  const rate = seconds > 0 ? done / seconds : 0;
  return `capsule: ${label} ${String(Math.floor(frac * 100)).padStart(3)}% [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${bytes(done)} / ${bytes(total)} ${bytes(rate)}/s`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}
