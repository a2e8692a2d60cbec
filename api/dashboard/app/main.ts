/**
 * The dashboard: the tenant's batches and files through the public API (`v1/…`, same origin), nothing the
 * SDKs cannot do. The API key is kept in this tab's session storage; with authentication off there is no
 * sign-in. Pages are addressed by the URL's hash: `#/batches`, `#/batches/<id>`, `#/new`, `#/files`.
 */
import { ApiError, BatchApi } from './api';
import type { DashboardConfig, Page, PageContext } from './context';
import { alertBox, h, replace } from './dom';
import { batchPage } from './pages/batch';
import { batchesPage } from './pages/batches';
import { filesPage } from './pages/files';
import { newBatchPage } from './pages/new-batch';

const KEY_ITEM = 'batch-api-key';

function config(): DashboardConfig {
  const url = document.querySelector('meta[name="temporal-workflow-url"]')?.getAttribute('content') ?? '';
  return { workflowUrl: url !== '' ? url : null };
}

function announce(message: string): void {
  const region = document.getElementById('announcer');
  if (region === null) return;
  region.textContent = '';
  window.setTimeout(() => (region.textContent = message), 50);
}

/** Whether `key` (null: none) opens the API: the page's first call, as any client's. */
async function tryKey(key: string | null): Promise<true | ApiError> {
  try {
    await new BatchApi(key).listBatches(undefined, 1);
    return true;
  } catch (err) {
    return err instanceof ApiError ? err : new ApiError(String(err), 0);
  }
}

/** Resolves to the API once a key works, asking for one if needed; a wrong key says so. */
async function signIn(main: HTMLElement): Promise<{ api: BatchApi; authOff: boolean }> {
  const stored = sessionStorage.getItem(KEY_ITEM);
  const first = await tryKey(stored);
  if (first === true) return { api: new BatchApi(stored), authOff: stored === null };
  if (first.status !== 401) throw first;
  sessionStorage.removeItem(KEY_ITEM);
  return new Promise((resolve) => {
    const input = h('input', {
      id: 'api-key',
      type: 'password',
      autocomplete: 'off',
      required: true,
      spellcheck: false,
    });
    const error = alertBox(stored !== null ? first.message : null, 'sign-in-error');
    const form = h(
      'form',
      { class: 'sign-in' },
      h('p', {}, h('label', { for: 'api-key' }, 'API key'), ' ', input),
      h('p', {}, h('button', { type: 'submit' }, 'Sign in')),
      error,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const key = input.value.trim();
      void tryKey(key).then((result) => {
        if (result === true) {
          sessionStorage.setItem(KEY_ITEM, key);
          resolve({ api: new BatchApi(key), authOff: false });
        } else {
          error.textContent = result.message;
          input.focus();
        }
      });
    });
    replace(main, h('h1', { tabindex: -1 }, 'Sign in'), h('p', {}, 'Sign in with an API key of this Batch API.'), form);
    document.title = 'Sign in · Batches';
    input.focus();
  });
}

const ROUTES: { pattern: RegExp; page: Page; title: string; nav: string }[] = [
  { pattern: /^#\/batches\/([^/?]+)$/, page: batchPage, title: 'Batch', nav: '#/batches' },
  { pattern: /^#\/new$/, page: newBatchPage, title: 'New batch', nav: '#/new' },
  { pattern: /^#\/files(?:\?.*)?$/, page: filesPage, title: 'Files', nav: '#/files' },
  { pattern: /^(?:#\/batches(?:\?.*)?)?$/, page: batchesPage, title: 'Batches', nav: '#/batches' },
];

function startRouter(main: HTMLElement, api: BatchApi, settings: DashboardConfig): void {
  let stop: (() => void) | void;
  let generation = 0;
  const show = () => {
    if (typeof stop === 'function') stop();
    const mine = ++generation;
    const hash = location.hash;
    const route = ROUTES.find((r) => r.pattern.test(hash)) ?? ROUTES[ROUTES.length - 1];
    const id = route.pattern.exec(hash)?.[1] ?? null;
    const ctx: PageContext = {
      main,
      api,
      config: settings,
      id: id !== null ? decodeURIComponent(id) : null,
      query: new URLSearchParams(hash.includes('?') ? hash.slice(hash.indexOf('?') + 1) : ''),
      announce,
      current: () => generation === mine,
    };
    document.title = `${id !== null ? decodeURIComponent(id) : route.title} · Batches`;
    for (const link of Array.from(document.querySelectorAll('header nav a'))) {
      if (link.getAttribute('href') === route.nav) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    stop = route.page(ctx);
    (main.querySelector('h1') as HTMLElement | null)?.focus();
  };
  window.addEventListener('hashchange', show);
  show();
}

async function start(): Promise<void> {
  const main = document.getElementById('main') as HTMLElement;
  const nav = document.getElementById('main-nav') as HTMLElement;
  try {
    const { api, authOff } = await signIn(main);
    nav.hidden = false;
    const signOut = document.getElementById('sign-out') as HTMLButtonElement;
    signOut.hidden = authOff;
    signOut.addEventListener('click', () => {
      sessionStorage.removeItem(KEY_ITEM);
      location.hash = '#/batches';
      location.reload();
    });
    startRouter(main, api, config());
  } catch (err) {
    replace(
      main,
      h('h1', { tabindex: -1 }, 'Batches'),
      alertBox((err as Error).message),
      h('p', {}, h('button', { type: 'button', onclick: () => location.reload() }, 'Try again')),
    );
  }
}

void start();
