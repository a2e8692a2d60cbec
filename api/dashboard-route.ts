import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import express, { Router } from 'express';
import type { Response } from 'express';
import { NotFoundError } from './errors';

/** Where the compiled API finds the dashboard `npm run build` wrote (dist/api/dashboard). */
export const DASHBOARD_DIR = path.join(__dirname, 'dashboard');

export interface DashboardOptions {
  /** The built dashboard (index.html and assets/); null or unbuilt: `GET /` says how to build it. */
  dir: string | null;
  /** The Temporal Web UI, for the link from a batch to its workflow; null: no link. */
  temporalUiUrl: string | null;
  namespace: string;
}

/** The page talks to its own origin only and is framed by nobody. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/**
 * `GET /`: the dashboard, static assets built by `npm run build`, on the API's own origin (so it calls `/v1`
 * with no CORS). The page itself holds no data: everything comes through the API with the person's key.
 */
export function dashboardRouter(options: DashboardOptions): Router {
  const router = Router();
  const indexFile = options.dir !== null ? path.join(options.dir, 'index.html') : null;
  const built = indexFile !== null && existsSync(path.join(options.dir!, 'assets', 'app.js'));
  const page = built ? withWorkflowUrl(readFileSync(indexFile, 'utf8'), options) : null;
  const secure = (res: Response) => res.set(SECURITY_HEADERS);

  router.get('/', (_req, res) => {
    if (page === null) throw new NotFoundError('The dashboard is not built: run `npm run build`.');
    secure(res).type('html').send(page);
  });
  if (built) {
    router.use(
      '/assets',
      express.static(path.join(options.dir!, 'assets'), {
        index: false,
        setHeaders: (res) => res.set(SECURITY_HEADERS),
      }),
    );
  }
  return router;
}

/** The page with the Web UI's address of a batch's workflow (`{id}` for the batch id) in its meta tag. */
function withWorkflowUrl(html: string, { temporalUiUrl, namespace }: DashboardOptions): string {
  const url =
    temporalUiUrl !== null ? `${temporalUiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/{id}` : '';
  const attribute = url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return html.replace(
    '<meta name="temporal-workflow-url" content="" />',
    `<meta name="temporal-workflow-url" content="${attribute}" />`,
  );
}
