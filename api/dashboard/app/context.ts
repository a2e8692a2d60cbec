import type { BatchApi } from './api';

/** What the page serving the dashboard tells it (from its `<meta>` tags). */
export interface DashboardConfig {
  /** The Temporal Web UI's page of a workflow, with `{id}` for the batch id; null: no link. */
  workflowUrl: string | null;
}

/** What a page gets when it is shown. */
export interface PageContext {
  /** Where the page renders. */
  main: HTMLElement;
  api: BatchApi;
  config: DashboardConfig;
  /** The route's id (a batch id), if it has one, and its query (`after`). */
  id: string | null;
  query: URLSearchParams;
  /** Says something to screen readers (a polite live region). */
  announce(message: string): void;
  /** Whether this page is still the one shown (timers stop when not). */
  current(): boolean;
}

/** Shows a page; returns what stops it (timers) when another is shown. */
export type Page = (ctx: PageContext) => void | (() => void);

/** Items per page: `limit` in the page's address (1–100, as the API takes), 20 unless given. */
export function pageSize(query: URLSearchParams): number {
  const n = Number(query.get('limit') ?? 20);
  return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 20;
}

/** Runs `refresh` every `ms` until it says to stop or the page is left; never two at once. */
export function keepRefreshing(ctx: PageContext, ms: number, refresh: () => Promise<boolean>): () => void {
  let timer: number | undefined;
  let stopped = false;
  const tick = async () => {
    if (stopped || !ctx.current()) return;
    const again = await refresh().catch(() => true);
    if (again && !stopped) timer = window.setTimeout(() => void tick(), ms);
  };
  timer = window.setTimeout(() => void tick(), ms);
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}
