/** How the dashboard writes numbers, sizes and times: in the viewer's locale and time zone. */

const numbers = new Intl.NumberFormat();
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;

export function count(n: number): string {
  return numbers.format(n);
}

export function bytes(n: number): string {
  if (n < 1024) return `${count(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A Unix time as a `<time>` in the viewer's time zone (named in its title), or a dash. */
export function time(seconds: number | null | undefined): HTMLElement | string {
  if (seconds === null || seconds === undefined) return '—';
  const date = new Date(seconds * 1000);
  const el = document.createElement('time');
  el.dateTime = date.toISOString();
  el.title = `${date.toISOString()} (shown in ${zone})`;
  el.textContent = dateTime.format(date);
  return el;
}

export function percent(part: number, whole: number): string {
  return whole > 0 ? `${Math.floor((100 * part) / whole)}%` : '0%';
}
