import type { Batch } from '../../../../common/batch';
import { isActive, progressOf, statusBadge } from '../batch-view';
import type { Page, PageContext } from '../context';
import { keepRefreshing } from '../context';
import { alertBox, h, replace } from '../dom';
import { count, time } from '../format';
import { confirmDialog, downloadFile } from '../actions';

const REFRESH_MS = 2000;

/** One batch: timeline, counts, usage, errors, metadata, its files, cancel; refreshes while it is active. */
export const batchPage: Page = (ctx) => {
  const id = ctx.id ?? '';
  const body = h('div', {}, h('p', {}, 'Loading…'));
  const error = alertBox(null);
  replace(ctx.main, h('h1', { tabindex: -1, class: 'mono' }, id), error, body);
  let last: Batch | null = null;
  const load = async (): Promise<boolean> => {
    try {
      const batch = await ctx.api.getBatch(id);
      if (!ctx.current()) return false;
      if (last === null || JSON.stringify(last) !== JSON.stringify(batch)) {
        if (last !== null && last.status !== batch.status) ctx.announce(`The batch is ${batch.status}.`);
        last = batch;
        showBatch(ctx, body, batch, error, () => void load());
      }
      return isActive(batch);
    } catch (err) {
      error.textContent = (err as Error).message;
      return last === null ? false : isActive(last);
    }
  };
  let stop: () => void = () => undefined;
  void load().then((again) => {
    if (again) stop = keepRefreshing(ctx, REFRESH_MS, load);
  });
  return () => stop();
};

function showBatch(ctx: PageContext, body: HTMLElement, batch: Batch, error: HTMLElement, reload: () => void): void {
  const focused = document.activeElement?.id;
  replace(
    body,
    h('p', { class: 'summary' }, statusBadge(batch), ' ', progressOf(batch)),
    actions(ctx, batch, error, reload),
    section('Timeline', timeline(batch)),
    section(
      'Request counts',
      facts([
        ['Total', count(batch.request_counts.total)],
        ['Completed', count(batch.request_counts.completed)],
        ['Failed', count(batch.request_counts.failed)],
      ]),
    ),
    section(
      'Usage',
      facts([
        ['Input tokens', count(batch.usage.input_tokens)],
        ['Cached input tokens', count(batch.usage.input_tokens_details.cached_tokens)],
        ['Output tokens', count(batch.usage.output_tokens)],
        ['Reasoning tokens', count(batch.usage.output_tokens_details.reasoning_tokens)],
        ['Total tokens', count(batch.usage.total_tokens)],
      ]),
    ),
    section(
      'Details',
      facts([
        ['Endpoint', batch.endpoint],
        ['Model', batch.model ?? '—'],
        ['Completion window', batch.completion_window],
        ['Input file', batch.input_file_id],
        ['Output file', batch.output_file_id ?? '—'],
        ['Error file', batch.error_file_id ?? '—'],
      ]),
    ),
    batch.errors !== null && batch.errors.data.length > 0 ? section('Errors', errorsTable(batch)) : null,
    section('Metadata', metadataTable(batch)),
  );
  if (focused) document.getElementById(focused)?.focus();
}

function section(title: string, content: HTMLElement): HTMLElement {
  const headingId = `h-${title.toLowerCase().replace(/\W+/g, '-')}`;
  return h('section', { 'aria-labelledby': headingId }, h('h2', { id: headingId }, title), content);
}

function facts(rows: [string, string | HTMLElement][]): HTMLElement {
  return h(
    'dl',
    { class: 'facts' },
    rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

/** Created, In progress, Finalizing, then how it ended (or is ending), each with its time or a dash. */
function timeline(batch: Batch): HTMLElement {
  const steps: [string, number | null][] = [
    ['Created', batch.created_at],
    ['In progress', batch.in_progress_at],
    ['Finalizing', batch.finalizing_at],
  ];
  if (batch.cancelling_at !== null) steps.push(['Cancelling', batch.cancelling_at]);
  const end: [string, number | null] =
    batch.failed_at !== null
      ? ['Failed', batch.failed_at]
      : batch.expired_at !== null
        ? ['Expired', batch.expired_at]
        : batch.cancelled_at !== null || batch.cancelling_at !== null
          ? ['Cancelled', batch.cancelled_at]
          : ['Completed', batch.completed_at];
  steps.push(end);
  const list = h(
    'ol',
    { class: 'timeline' },
    steps.map(([label, at]) =>
      h('li', { class: at !== null ? 'done' : 'pending' }, h('span', { class: 'step' }, label), ' ', time(at)),
    ),
  );
  return h('div', {}, list, h('p', {}, 'Deadline: ', time(batch.expires_at)));
}

function errorsTable(batch: Batch): HTMLElement {
  const data = batch.errors?.data ?? [];
  return h(
    'table',
    {},
    h('caption', {}, `${count(data.length)} ${data.length === 1 ? 'problem' : 'problems'} found in the input file`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['Line', 'Code', 'Message', 'Parameter'].map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h(
      'tbody',
      {},
      data.map((e) =>
        h(
          'tr',
          {},
          h('td', {}, e.line ?? '—'),
          h('td', { class: 'mono' }, e.code),
          h('td', {}, e.message),
          h('td', { class: 'mono' }, e.param ?? '—'),
        ),
      ),
    ),
  );
}

function metadataTable(batch: Batch): HTMLElement {
  const entries = Object.entries(batch.metadata ?? {});
  if (entries.length === 0) return h('p', {}, 'None.');
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Key'), h('th', { scope: 'col' }, 'Value'))),
    h(
      'tbody',
      {},
      entries.map(([k, v]) => h('tr', {}, h('td', { class: 'mono' }, k), h('td', {}, v))),
    ),
  );
}

/** Downloads, cancel (confirmed first), and the workflow in the Temporal Web UI when it is configured. */
function actions(ctx: PageContext, batch: Batch, error: HTMLElement, reload: () => void): HTMLElement {
  const download = (fileId: string | null, label: string, id: string) =>
    fileId === null
      ? null
      : h('button', { type: 'button', id, onclick: () => void downloadFile(ctx, fileId, error) }, label);
  const cancellable = batch.status === 'validating' || batch.status === 'in_progress';
  const cancel = async () => {
    if (
      !(await confirmDialog(
        `Cancel ${batch.id}?`,
        'Requests that have not run yet will not run. Finished results are kept.',
        'Cancel batch',
        'Keep it running',
      ))
    )
      return;
    try {
      await ctx.api.cancelBatch(batch.id);
      ctx.announce('Cancel requested.');
      reload();
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  };
  const workflow = ctx.config.workflowUrl?.replace('{id}', encodeURIComponent(batch.id));
  return h(
    'p',
    { class: 'actions' },
    download(batch.output_file_id, 'Download output', 'download-output'),
    download(batch.error_file_id, 'Download errors', 'download-errors'),
    cancellable
      ? h(
          'button',
          { type: 'button', id: 'cancel-batch', class: 'danger', onclick: () => void cancel() },
          'Cancel batch',
        )
      : null,
    workflow ? h('a', { href: workflow, target: '_blank', rel: 'noopener' }, 'Workflow in the Temporal Web UI') : null,
  );
}
