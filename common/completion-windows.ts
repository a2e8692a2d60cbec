/**
 * Completion windows and the deadline classes they make. `completion_window` is one of the configured
 * windows (`BATCH_COMPLETION_WINDOWS`, e.g. `1h,24h,7d`); capacity goes to the earliest deadline first, by
 * class: a batch's class is the shortest window that still covers the time left to its deadline, so a
 * `24h` batch with an hour left competes with the `1h` batches. Within a class, tenants share fairly.
 */

/** OpenAI's window, the one accepted when nothing else is configured. */
export const DEFAULT_COMPLETION_WINDOW = '24h';

const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86_400 };

/** The seconds a window like `24h`, `7d` or `90m` names, or null when it is not one. */
export function windowSeconds(window: string): number | null {
  const m = /^([1-9]\d{0,5})([mhd])$/.exec(window);
  return m === null ? null : Number(m[1]) * UNIT_SECONDS[m[2]];
}

/**
 * The deadline class of a batch with `secondsLeft` to its deadline, given the windows' lengths in seconds:
 * 0 for the shortest window that covers it, and so on; past the longest, the last class.
 */
export function deadlineClass(secondsLeft: number, windowsSeconds: readonly number[]): number {
  const sorted = [...windowsSeconds].sort((a, b) => a - b);
  const i = sorted.findIndex((w) => secondsLeft <= w);
  return i === -1 ? Math.max(0, sorted.length - 1) : i;
}

/** Temporal's priority key (1 runs first, 5 last) for a deadline class. */
export function priorityKeyOf(deadlineClassIndex: number): number {
  return Math.min(5, 1 + deadlineClassIndex);
}
