/** A figure: its label and its value. */
export type Row = [string, string];

/** Prints a titled table of figures, labels padded to one width. */
export function table(title: string, rows: Row[]): void {
  console.log(`\n## ${title}`);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

/** The middle value (the upper one of an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

export const sum = (values: Record<string, number>): number => Object.values(values).reduce((a, b) => a + b, 0);
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
export const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
