import type { Batch } from '../../../../common/batch';
import { isActive, progressOf, statusBadge } from '../batch-view';
import type { Page } from '../context';
import { keepRefreshing, pageSize } from '../context';
import { alertBox, h, replace } from '../dom';
import { time } from '../format';

const REFRESH_MS = 2000;

/** The tenant's batches, newest first, a page at a time (`after`, like the API); refreshes while any is active. */
export const batchesPage: Page = (ctx) => {
  const after = ctx.query.get('after') ?? undefined;
  const limit = pageSize(ctx.query);
  const table = h('div', { class: 'table-wrap' }, h('p', {}, 'Loading…'));
  const pager = h('nav', { 'aria-label': 'Pages', class: 'pager' });
  const error = alertBox(null);
  replace(
    ctx.main,
    h('h1', { tabindex: -1 }, 'Batches'),
    h('p', {}, h('a', { href: '#/new', class: 'button' }, 'New batch')),
    error,
    table,
    pager,
  );
  const load = async (): Promise<boolean> => {
    try {
      const page = await ctx.api.listBatches(after, limit);
      if (!ctx.current()) return false;
      error.textContent = '';
      showTable(table, page.data);
      replace(
        pager,
        after !== undefined ? h('a', { href: `#/batches?limit=${limit}` }, 'First page') : null,
        page.has_more && page.last_id !== null
          ? h('a', { href: `#/batches?limit=${limit}&after=${encodeURIComponent(page.last_id)}` }, 'Next page')
          : null,
      );
      return page.data.some(isActive);
    } catch (err) {
      error.textContent = (err as Error).message;
      return true;
    }
  };
  let stop: () => void = () => undefined;
  void load().then((again) => {
    if (again) stop = keepRefreshing(ctx, REFRESH_MS, load);
  });
  return () => stop();
};

/** Replaces the table, keeping the keyboard focus on the link it was on. */
function showTable(wrap: HTMLElement, batches: Batch[]): void {
  const focused = document.activeElement?.id;
  if (batches.length === 0) {
    replace(wrap, h('p', {}, 'No batches yet. ', h('a', { href: '#/new' }, 'Create one'), '.'));
    return;
  }
  const head = ['Batch', 'Status', 'Progress', 'Endpoint', 'Model', 'Created', 'Deadline'];
  replace(
    wrap,
    h(
      'table',
      {},
      h('caption', {}, 'Your batches, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          head.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h('tbody', {}, batches.map(row)),
    ),
  );
  if (focused) document.getElementById(focused)?.focus();
}

function row(batch: Batch): HTMLElement {
  return h(
    'tr',
    { 'data-batch-id': batch.id },
    h(
      'th',
      { scope: 'row' },
      h('a', { href: `#/batches/${batch.id}`, id: `link-${batch.id}`, class: 'mono' }, batch.id),
    ),
    h('td', {}, statusBadge(batch)),
    h('td', {}, progressOf(batch)),
    h('td', { class: 'mono' }, batch.endpoint),
    h('td', {}, batch.model ?? '—'),
    h('td', {}, time(batch.created_at)),
    h('td', {}, time(batch.expires_at)),
  );
}
