import { BATCH_ENDPOINTS } from '../../../../common/batch';
import type { Page, PageContext } from '../context';
import { alertBox, h, replace } from '../dom';
import { bytes, percent } from '../format';

const DEFAULT_ENDPOINT = '/v1/chat/completions';
/** OpenAI's limit: at most 16 metadata pairs. */
const MAX_METADATA = 16;

/**
 * A new batch: a `.jsonl` dropped or chosen, the endpoint (taken from the file's first line when it names
 * one), the window and metadata. Uploads through `v1/files` with a progress bar, creates through
 * `v1/batches`, then opens the batch.
 */
export const newBatchPage: Page = (ctx) => {
  const file = h('input', { type: 'file', id: 'input-file', name: 'file', accept: '.jsonl', required: true });
  const endpoint = h('select', { id: 'endpoint', name: 'endpoint' }, endpointOptions());
  const windowInput = h('input', {
    id: 'window',
    name: 'completion_window',
    value: '24h',
    list: 'windows',
    required: true,
    size: 6,
  });
  const metadata = h('div', { id: 'metadata-rows' });
  const progress = h('progress', {
    id: 'upload-progress',
    max: 100,
    value: 0,
    'aria-label': 'Upload progress',
    hidden: true,
  });
  const progressText = h('span', { id: 'upload-progress-text' });
  const fileNote = h('p', { id: 'file-note', class: 'hint' });
  const error = alertBox(null, 'create-error');
  const submit = h('button', { type: 'submit' }, 'Create');
  const drop = h(
    'div',
    { class: 'drop', id: 'drop-zone' },
    h('label', { for: 'input-file' }, 'Input file (.jsonl)'),
    file,
    h('p', { class: 'hint', id: 'drop-hint' }, 'Choose a file, or drop one here.'),
    fileNote,
  );
  file.setAttribute('aria-describedby', 'drop-hint file-note');
  const form = h(
    'form',
    { novalidate: true },
    drop,
    h('p', {}, h('label', { for: 'endpoint' }, 'Endpoint'), ' ', endpoint),
    h(
      'p',
      {},
      h('label', { for: 'window' }, 'Completion window'),
      ' ',
      windowInput,
      h('datalist', { id: 'windows' }, h('option', { value: '24h' })),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Metadata (optional)'),
      metadata,
      h('button', { type: 'button', onclick: () => addMetadataRow(metadata) }, 'Add metadata'),
    ),
    h('p', {}, submit, ' ', progress, ' ', progressText),
    error,
  );
  replace(ctx.main, h('h1', { tabindex: -1 }, 'New batch'), form);

  const choose = (chosen: File | undefined) => void onFile(chosen, endpoint, fileNote, ctx);
  file.addEventListener('change', () => choose(file.files?.[0]));
  acceptDrops(drop, file, choose);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void create(ctx, { file, endpoint, window: windowInput, metadata, progress, progressText, error, submit });
  });
};

function endpointOptions(): HTMLOptionElement[] {
  return BATCH_ENDPOINTS.map((e) => h('option', { value: e, selected: e === DEFAULT_ENDPOINT }, e));
}

/** Dropping a file on the zone puts it in the file input, as choosing it would. */
function acceptDrops(zone: HTMLElement, input: HTMLInputElement, chosen: (f: File | undefined) => void): void {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    if (e.dataTransfer?.files.length) {
      input.files = e.dataTransfer.files;
      chosen(input.files[0]);
    }
  });
}

/** Reads the file's first line: a `url` that is a batch endpoint picks the endpoint. */
async function onFile(file: File | undefined, endpoint: HTMLSelectElement, note: HTMLElement, ctx: PageContext) {
  note.textContent = '';
  if (file === undefined) return;
  const head = await file.slice(0, 64 * 1024).text();
  const first = head.split('\n').find((l) => l.trim().length > 0);
  let url: unknown;
  try {
    url = (JSON.parse(first ?? '') as { url?: unknown }).url;
  } catch {
    url = undefined;
  }
  const size = bytes(file.size);
  if (typeof url === 'string' && (BATCH_ENDPOINTS as readonly string[]).includes(url)) {
    endpoint.value = url;
    note.textContent = `${file.name}, ${size}. Endpoint ${url}, from its first line.`;
  } else {
    note.textContent = `${file.name}, ${size}.`;
  }
  ctx.announce(note.textContent);
}

function addMetadataRow(container: HTMLElement): void {
  const n = container.children.length + 1;
  if (n > MAX_METADATA) return;
  const row = h(
    'div',
    { class: 'metadata-row' },
    h('label', { for: `meta-key-${n}` }, `Key ${n}`),
    h('input', { id: `meta-key-${n}`, class: 'meta-key', maxlength: 64 }),
    h('label', { for: `meta-value-${n}` }, `Value ${n}`),
    h('input', { id: `meta-value-${n}`, class: 'meta-value', maxlength: 512 }),
  );
  container.appendChild(row);
  (row.querySelector('input') as HTMLInputElement).focus();
}

interface FormParts {
  file: HTMLInputElement;
  endpoint: HTMLSelectElement;
  window: HTMLInputElement;
  metadata: HTMLElement;
  progress: HTMLProgressElement;
  progressText: HTMLElement;
  error: HTMLElement;
  submit: HTMLButtonElement;
}

/** Uploads, then creates the batch, then opens it; any error is shown as the API put it. */
async function create(ctx: PageContext, f: FormParts): Promise<void> {
  const chosen = f.file.files?.[0];
  f.error.textContent = '';
  if (chosen === undefined) {
    f.error.textContent = 'Choose a .jsonl file first.';
    f.file.focus();
    return;
  }
  f.submit.disabled = true;
  f.progress.hidden = false;
  try {
    const uploaded = await ctx.api.upload(chosen, (sent) => {
      f.progress.value = Math.round(sent * 100);
      f.progressText.textContent = `Uploading: ${percent(sent * 100, 100)}`;
    });
    f.progressText.textContent = 'Uploaded. Creating the batch…';
    const metadata = readMetadata(f.metadata);
    const batch = await ctx.api.createBatch({
      input_file_id: uploaded.id,
      endpoint: f.endpoint.value,
      completion_window: f.window.value.trim(),
      ...(metadata !== null ? { metadata } : {}),
    });
    location.hash = `#/batches/${batch.id}`;
  } catch (err) {
    f.error.textContent = (err as Error).message;
    f.progressText.textContent = '';
    f.progress.hidden = true;
  } finally {
    f.submit.disabled = false;
  }
}

function readMetadata(container: HTMLElement): Record<string, string> | null {
  const pairs: [string, string][] = [];
  for (const row of Array.from(container.children)) {
    const key = (row.querySelector('.meta-key') as HTMLInputElement).value.trim();
    const value = (row.querySelector('.meta-value') as HTMLInputElement).value;
    if (key !== '') pairs.push([key, value]);
  }
  return pairs.length > 0 ? Object.fromEntries(pairs) : null;
}
