/**
 * Pins how the API serves the dashboard: `GET /` is the built page, with the Web UI's address of a batch's
 * workflow in its meta tag (escaped) and a strict Content-Security-Policy; its assets are under `/assets/`;
 * an unbuilt dashboard is a 404 in OpenAI's envelope saying how to build it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import express from 'express';
import { buildDashboard } from '../../../api/build-dashboard';
import { dashboardRouter } from '../../../api/dashboard-route';
import type { DashboardOptions } from '../../../api/dashboard-route';
import { createErrorHandler } from '../../../api/error-handler';
import { NotFoundError } from '../../../api/errors';
import { createLogger } from '../../../telemetry/logger';

jest.setTimeout(30_000);

describe('the dashboard route', () => {
  let dir: string;
  let server: Server | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dashboard-'));
    await buildDashboard(dir);
  });
  afterEach(() => server?.close());
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function serve(options: DashboardOptions): Promise<string> {
    const app = express();
    app.use(dashboardRouter(options));
    app.use((req) => {
      throw new NotFoundError(`Invalid URL (${req.method} ${req.path})`);
    });
    app.use(createErrorHandler({ logger: createLogger({ level: 'silent', service: 'test' }) }));
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('serves the built page with the workflow link and a strict CSP, and its assets', async () => {
    const base = await serve({ dir, temporalUiUrl: 'http://ui.example:8080', namespace: 'prod&"x' });
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain(
      '<meta name="temporal-workflow-url" content="http://ui.example:8080/namespaces/prod%26%22x/workflows/{id}" />',
    );
    expect(html).toContain('<script defer src="assets/app.js"></script>');
    const script = await fetch(`${base}/assets/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect((await fetch(`${base}/assets/style.css`)).status).toBe(200);
    expect((await fetch(`${base}/assets/nothing.js`)).status).toBe(404);
  });

  it('leaves the link out without a Web UI, and says how to build a dashboard that is not built', async () => {
    const base = await serve({ dir, temporalUiUrl: null, namespace: 'default' });
    expect(await (await fetch(`${base}/`)).text()).toContain('<meta name="temporal-workflow-url" content="" />');
    server?.close();
    const unbuilt = await serve({ dir: null, temporalUiUrl: null, namespace: 'default' });
    const res = await fetch(`${unbuilt}/`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        message: 'The dashboard is not built: run `npm run build`.',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
  });
});
