import type { Batch } from '../common/batch';

/** An e-mail, in plain text and HTML. */
export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

/** How many of a failed batch's errors the e-mail lists. */
export const ERRORS_LISTED = 10;

/**
 * The e-mail about a batch that ended: its id and status in the subject; its counts, files, the first errors
 * of a failed batch and a link to it in the dashboard in the body. Times are UTC (the reader's zone is not
 * known here; the dashboard shows theirs).
 */
export function batchEndMessage(batch: Batch, dashboardUrl: string | null): EmailContent {
  const { total, completed, failed } = batch.request_counts;
  const subject = `Batch ${batch.id} ${batch.status}: ${n(completed)} of ${n(total)} requests succeeded`;
  const facts: [string, string][] = [
    ['Status', batch.status],
    ['Endpoint', batch.endpoint],
    ['Model', batch.model ?? '—'],
    ['Requests', `${n(total)} total, ${n(completed)} completed, ${n(failed)} failed`],
    ['Tokens', n(batch.usage.total_tokens)],
    ['Created', utc(batch.created_at)],
    ['Ended', utc(endOf(batch))],
    ['Output file', batch.output_file_id ?? '—'],
    ['Error file', batch.error_file_id ?? '—'],
    ...Object.entries(batch.metadata ?? {}).map(([k, v]): [string, string] => [`metadata.${k}`, v]),
  ];
  const errors = (batch.errors?.data ?? []).slice(0, ERRORS_LISTED).map((e) => {
    const where = e.line !== null ? `line ${e.line}` : 'batch';
    return `${where}: ${e.code}: ${e.message}`;
  });
  const errorsTitle = `Errors (the first ${errors.length} of ${batch.errors?.data.length ?? 0})`;
  const link = dashboardUrl !== null ? `${dashboardUrl}/#/batches/${batch.id}` : null;

  const text = [
    `Your batch ${batch.id} has ended: ${batch.status}.`,
    '',
    ...facts.map(([k, v]) => `${k}: ${v}`),
    ...(errors.length > 0 ? ['', `${errorsTitle}:`, ...errors.map((e) => `  ${e}`)] : []),
    ...(link !== null ? ['', `Open it in the dashboard: ${link}`] : []),
    '',
  ].join('\n');

  const html = [
    '<!doctype html><html><body style="font-family: sans-serif">',
    `<p>Your batch <code>${esc(batch.id)}</code> has ended: <strong>${esc(batch.status)}</strong>.</p>`,
    '<table>',
    ...facts.map(([k, v]) => `<tr><th align="left">${esc(k)}</th><td>${esc(v)}</td></tr>`),
    '</table>',
    ...(errors.length > 0
      ? [`<p>${esc(errorsTitle)}:</p><ul>`, ...errors.map((e) => `<li>${esc(e)}</li>`), '</ul>']
      : []),
    ...(link !== null ? [`<p><a href="${esc(link)}">Open it in the dashboard</a></p>`] : []),
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

function endOf(batch: Batch): number | null {
  return batch.completed_at ?? batch.failed_at ?? batch.expired_at ?? batch.cancelled_at;
}

function utc(seconds: number | null): string {
  return seconds === null ? '—' : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

function n(value: number): string {
  return value.toLocaleString('en-US');
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
