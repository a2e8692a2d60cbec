import type { PageContext } from './context';
import { h } from './dom';

/**
 * Fetches a file's content with the API key and saves it under its name (a link to `files/…/content` could
 * not carry the key). An error (an expired file, say) is shown in `error`, in the API's words.
 */
export async function downloadFile(ctx: PageContext, fileId: string, error: HTMLElement): Promise<void> {
  try {
    const [file, content] = await Promise.all([ctx.api.getFile(fileId), ctx.api.fileContent(fileId)]);
    const url = URL.createObjectURL(content);
    const link = h('a', { href: url, download: file.filename, hidden: true });
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
    ctx.announce(`Downloading ${file.filename}.`);
  } catch (err) {
    error.textContent = (err as Error).message;
  }
}

/**
 * Asks before something that cannot be undone, in a modal `<dialog>` (focus moves into it, Escape keeps
 * things as they are). Resolves to whether the person confirmed.
 */
export function confirmDialog(title: string, text: string, confirm: string, keep: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h(
      'dialog',
      { 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text', class: 'confirm' },
      h('h2', { id: 'confirm-title' }, title),
      h('p', { id: 'confirm-text' }, text),
      h(
        'form',
        { method: 'dialog' },
        h('button', { value: 'keep', autofocus: true }, keep),
        ' ',
        h('button', { value: 'confirm', class: 'danger' }, confirm),
      ),
    );
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}
