import type { FileObject } from '../../../../common/file';
import { confirmDialog, downloadFile } from '../actions';
import type { Page, PageContext } from '../context';
import { alertBox, h, replace } from '../dom';
import { pageSize } from '../context';
import { bytes, time } from '../format';

/** The tenant's files, newest first, a page at a time: download, delete (confirmed first). */
export const filesPage: Page = (ctx) => {
  const after = ctx.query.get('after') ?? undefined;
  const limit = pageSize(ctx.query);
  const table = h('div', { class: 'table-wrap' }, h('p', {}, 'Loading…'));
  const pager = h('nav', { 'aria-label': 'Pages', class: 'pager' });
  const error = alertBox(null);
  replace(ctx.main, h('h1', { tabindex: -1 }, 'Files'), error, table, pager);
  const load = async () => {
    try {
      const page = await ctx.api.listFiles(after, limit);
      if (!ctx.current()) return;
      error.textContent = '';
      showFiles(ctx, table, page.data, error, () => void load());
      replace(
        pager,
        after !== undefined ? h('a', { href: `#/files?limit=${limit}` }, 'First page') : null,
        page.has_more && page.last_id !== null
          ? h('a', { href: `#/files?limit=${limit}&after=${encodeURIComponent(page.last_id)}` }, 'Next page')
          : null,
      );
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  };
  void load();
};

function showFiles(ctx: PageContext, wrap: HTMLElement, files: FileObject[], error: HTMLElement, reload: () => void) {
  if (files.length === 0) {
    replace(wrap, h('p', {}, 'No files.'));
    return;
  }
  const remove = async (file: FileObject) => {
    if (!(await confirmDialog(`Delete ${file.filename}?`, `${file.id} is deleted for good.`, 'Delete file', 'Keep it')))
      return;
    try {
      await ctx.api.deleteFile(file.id);
      ctx.announce(`${file.filename} deleted.`);
      reload();
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  };
  const head = ['File', 'Name', 'Purpose', 'Size', 'Created', 'Expires', 'Actions'];
  replace(
    wrap,
    h(
      'table',
      {},
      h('caption', {}, 'Your files, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          head.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        files.map((file) =>
          h(
            'tr',
            { 'data-file-id': file.id },
            h('th', { scope: 'row', class: 'mono' }, file.id),
            h('td', {}, file.filename),
            h('td', {}, file.purpose),
            h('td', {}, bytes(file.bytes)),
            h('td', {}, time(file.created_at)),
            h('td', {}, time(file.expires_at)),
            h(
              'td',
              { class: 'actions' },
              h(
                'button',
                {
                  type: 'button',
                  'aria-label': `Download ${file.filename}`,
                  onclick: () => void downloadFile(ctx, file.id, error),
                },
                'Download',
              ),
              ' ',
              h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  'aria-label': `Delete ${file.filename}`,
                  onclick: () => void remove(file),
                },
                'Delete',
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
