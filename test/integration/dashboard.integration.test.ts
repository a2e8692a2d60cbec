/**
 * Pins the dashboard in a real browser (Debian's Chromium through playwright-core) against the real API,
 * worker and a Temporal dev server with its Web UI: sign in with an API key (a wrong one says so), see a
 * running batch's progress move by itself, upload and create a batch, download its files, cancel one, see a
 * failed batch's line errors, delete a file; a second tenant sees none of the first's batches; the page logs
 * no errors. Screenshots of each page, and of the batch's workflow in the Temporal Web UI, go to
 * test-results/screenshots/.
 */
import type { BrowserContext, Page } from 'playwright-core';
import OpenAI from 'openai';
import { startTemporalDevServer } from '../../standalone/temporal-dev-server';
import type { RunningDevServer } from '../../standalone/temporal-dev-server';
import { consoleErrors, download, launchChromium, screenshot, until } from '../helpers/browser';
import { freePort } from '../helpers/ports';
import { requestLine, startTestStack, uploadLines } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(180_000);

const TENANTS = { 'team-a': { keys: ['sk-team-a'] }, 'team-b': { keys: ['sk-team-b'] } };
/** What Chromium logs for answers the page expects: a wrong key (401), another tenant's batch (404). */
const EXPECTED = /Failed to load resource: the server responded with a status of (401|404)/;

describe('the dashboard, in Chromium', () => {
  let temporal: RunningDevServer;
  let uiUrl: string;
  let stack: TestStack;
  let browser: BrowserContext;
  let page: Page;
  let errors: string[];
  let teamA: OpenAI;
  let heldBatchId: string;

  beforeAll(async () => {
    const uiPort = await freePort();
    temporal = await startTemporalDevServer({
      cliPath: process.env.TEMPORAL_CLI_PATH ?? null,
      port: await freePort(),
      uiPort,
      dbFile: null,
      namespace: 'default',
    });
    uiUrl = `http://127.0.0.1:${uiPort}`;
    // The upstream serves nothing until the test opens its slots: a batch's first state is then known.
    stack = await startTestStack({
      temporalAddress: temporal.address,
      upstream: { slots: 0 },
      env: { TENANTS: JSON.stringify(TENANTS), TEMPORAL_UI_URL: uiUrl },
    });
    teamA = new OpenAI({ baseURL: `${stack.api.url}/v1`, apiKey: 'sk-team-a', maxRetries: 0 });
    browser = await launchChromium();
    page = await browser.newPage();
    errors = consoleErrors(page);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await temporal?.stop();
  }, 60_000);

  const text = (selector: string) => page.locator(selector).first().innerText();

  it('asks for an API key, says so when it is wrong, and signs in with a right one', async () => {
    await page.goto(`${stack.api.url}/`);
    const key = page.getByLabel('API key');
    await key.fill('sk-wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await until(
      () => page.getByRole('alert').innerText(),
      (t) => t === 'Incorrect API key provided.',
      'the error',
    );
    await screenshot(page, '01-sign-in-wrong-key');

    // The keyboard is enough: Enter submits.
    await key.fill('sk-team-a');
    await key.press('Enter');
    await page.getByRole('heading', { name: 'Batches', level: 1 }).waitFor();
    await page.getByText('No batches yet.').waitFor();
  });

  it("shows a running batch's progress moving by itself, as n / total and a <progress>", async () => {
    // 10 requests in one chunk: 4 answer once the upstream serves, 6 are held until the batch is cancelled.
    const file = await uploadLines(
      teamA,
      Array.from({ length: 10 }, (_, i) =>
        requestLine(`held-${i}`, '/v1/chat/completions', i < 4 ? {} : { fixture: { delay_ms: 600_000 } }),
      ),
    );
    const created = await teamA.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { project: 'browser test' },
    });
    heldBatchId = created.id;
    await page.reload();
    const row = page.locator(`tr[data-batch-id="${heldBatchId}"]`);
    const progress = () => row.locator('.progress-text').innerText();
    await until(progress, (t) => t === '0 / 10', 'the batch running, nothing done');
    expect(await row.locator('.status').innerText()).toBe('in_progress');
    await screenshot(page, '02-batches-in-progress-0');

    stack.upstream.setOptions({ slots: 100 });
    await until(progress, (t) => t === '4 / 10', 'the progress to move without a reload');
    expect(await row.locator('progress').getAttribute('value')).toBe('4');
    expect(await row.getByRole('link', { name: heldBatchId }).getAttribute('href')).toBe(`#/batches/${heldBatchId}`);
    await screenshot(page, '03-batches-in-progress-4');
  });

  it('shows the batch with its timeline and metadata, links to its workflow, and cancels it after asking', async () => {
    await page.getByRole('link', { name: heldBatchId }).click();
    await page.getByRole('heading', { name: heldBatchId }).waitFor();
    expect(await text('.timeline')).toMatch(/Created[\s\S]*In progress[\s\S]*Finalizing[\s\S]*Completed/);
    expect(await page.getByRole('cell', { name: 'browser test' }).isVisible()).toBe(true);
    // Times are the viewer's: this browser is in Berlin.
    const { created_at } = await teamA.batches.retrieve(heldBatchId);
    const berlin = new Intl.DateTimeFormat('en-US', {
      timeZone: 'Europe/Berlin',
      dateStyle: 'medium',
      timeStyle: 'medium',
    }).format(new Date(created_at * 1000));
    const shown = await page.locator('.timeline li').first().locator('time').innerText();
    expect(shown.replace(/\s+/gu, ' ')).toBe(berlin.replace(/\s+/gu, ' '));
    const workflowLink = page.getByRole('link', { name: 'Workflow in the Temporal Web UI' });
    expect(await workflowLink.getAttribute('href')).toBe(`${uiUrl}/namespaces/default/workflows/${heldBatchId}`);
    await screenshot(page, '04-batch-in-progress');

    await page.getByRole('button', { name: 'Cancel batch' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await screenshot(page, '05-batch-cancel-confirmation');
    await dialog.getByRole('button', { name: 'Cancel batch' }).click();
    await until(
      () => text('.summary .status'),
      (s) => s === 'cancelled',
      'the batch cancelled',
    );
    expect(await text('.summary .progress-text')).toBe('10 / 10');
    expect(await text('.timeline')).toMatch(/Cancelling[\s\S]*Cancelled/);

    const output = await download(page, page.getByRole('button', { name: 'Download output' }));
    expect(output.name).toBe(`${heldBatchId}_output.jsonl`);
    expect(output.text.trim().split('\n')).toHaveLength(4);
    const errorFile = await download(page, page.getByRole('button', { name: 'Download errors' }));
    expect(
      errorFile.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).error.code),
    ).toEqual(Array(6).fill('batch_cancelled'));
    await screenshot(page, '06-batch-cancelled');
  });

  it("shows the batch's workflow in the Temporal Web UI: its chunks' summaries, summary, details, current details", async () => {
    const ui = await browser.newPage();
    await ui.setViewportSize({ width: 1800, height: 1100 });
    await ui.goto(`${uiUrl}/namespaces/default/workflows/${heldBatchId}`);
    const chunkSummary = ui.getByText('chunk 1 of 1: requests 1–10').first();
    await chunkSummary.waitFor();
    await chunkSummary.scrollIntoViewIfNeeded();
    await screenshot(ui, '07-temporal-web-ui-timeline');
    await ui.getByRole('tab', { name: 'User Metadata' }).click();
    // The Web UI renders user metadata (markdown) in frames of its own.
    const frame = (id: string) => ui.frameLocator(`iframe#user-metadata-${id}`);
    await frame('summary').getByText('chat/completions · fixture-model · team-a · 24h').waitFor();
    await frame('details').getByText('team-a (weight 1)').waitFor();
    await frame('current-details').getByText('10 of 10 requests done (100%): 4 completed, 6 failed').waitFor();
    await screenshot(ui, '08-temporal-web-ui-user-metadata');

    // The list shows ids; the Batch* search attributes make columns an operator can add.
    await ui.goto(`${uiUrl}/namespaces/default/workflows`);
    await ui.getByText(heldBatchId).first().waitFor();
    await ui.getByTestId('workflows-summary-table-configuration-button').click();
    // Batch* columns in, and room made for them.
    for (const column of ['Run ID', 'Type', 'End', 'BatchStatus', 'BatchOwner', 'BatchModel']) {
      await ui.getByTestId(`orderable-list-item-${column}`).locator('button').last().click();
    }
    // The Web UI keeps the columns in the browser: shown again, the list has them.
    await ui.reload();
    await ui.getByRole('columnheader', { name: 'BatchOwner' }).waitFor();
    await ui.getByRole('cell', { name: 'team-a' }).first().waitFor();
    await screenshot(ui, '09-temporal-web-ui-list');
    await ui.close();
  });

  it('uploads a .jsonl (endpoint from its first line), creates the batch with metadata and opens it', async () => {
    await page.getByRole('link', { name: 'New batch' }).first().click();
    await page.getByRole('heading', { name: 'New batch' }).waitFor();
    const endpoint = page.getByLabel('Endpoint');
    expect(await endpoint.inputValue()).toBe('/v1/chat/completions');
    expect(await page.getByLabel('Completion window').inputValue()).toBe('24h');
    const lines = ['a', 'b', 'c'].map((id) => JSON.stringify(requestLine(id, '/v1/completions')));
    await page.getByLabel('Input file (.jsonl)').setInputFiles({
      name: 'three.jsonl',
      mimeType: 'application/jsonl',
      buffer: Buffer.from(lines.join('\n') + '\n'),
    });
    await until(
      () => endpoint.inputValue(),
      (v) => v === '/v1/completions',
      'the endpoint from the first line',
    );
    await page.getByRole('button', { name: 'Add metadata' }).click();
    await page.getByLabel('Key 1').fill('owner');
    await page.getByLabel('Value 1').fill('dashboard');
    expect(await page.getByLabel('Upload progress').count()).toBe(1);
    await screenshot(page, '10-new-batch');

    await page.getByRole('button', { name: 'Create' }).click();
    await until(
      () => Promise.resolve(new URL(page.url()).hash),
      (h) => /^#\/batches\/batch_/.test(h),
      'the new batch opened',
    );
    await until(
      () => text('.summary .status'),
      (s) => s === 'completed',
      'the batch completed',
    );
    expect(await text('.summary .progress-text')).toBe('3 / 3');
    expect(await page.getByRole('cell', { name: 'dashboard' }).isVisible()).toBe(true);
    const output = await download(page, page.getByRole('button', { name: 'Download output' }));
    expect(
      output.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).custom_id),
    ).toEqual(['a', 'b', 'c']);
    await screenshot(page, '11-batch-completed');
  });

  it("lists a failed batch's line errors in a table, in the API's words", async () => {
    const file = await uploadLines(teamA, ['{"custom_id": "x"', requestLine('ok', '/v1/chat/completions')]);
    const failed = await teamA.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    await page.goto(`${stack.api.url}/#/batches/${failed.id}`);
    await until(
      () => text('.summary .status'),
      (s) => s === 'failed',
      'the batch failed',
    );
    const errorRow = page.getByRole('table').filter({ hasText: 'found in the input file' }).locator('tbody tr').first();
    expect(await errorRow.locator('td').allInnerTexts()).toEqual(['1', 'invalid_json_line', expect.any(String), '—']);
    await screenshot(page, '12-batch-failed');
  });

  it('lists files, downloads one and deletes one after asking', async () => {
    await page.getByRole('link', { name: 'Files' }).click();
    const row = page.locator('tr', { hasText: 'three.jsonl' });
    await row.waitFor();
    const input = await download(page, row.getByRole('button', { name: 'Download three.jsonl' }));
    expect(input.text.trim().split('\n')).toHaveLength(3);
    await screenshot(page, '13-files');
    await row.getByRole('button', { name: 'Delete three.jsonl' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete file' }).click();
    await until(
      () => row.count(),
      (n) => n === 0,
      'the file gone from the list',
    );
  });

  it('pages through the batches with `after`, as the API does', async () => {
    const ids = (await teamA.batches.list()).data.map((b) => b.id);
    const rows = () =>
      page.locator('tbody tr[data-batch-id]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-batch-id')));
    await page.goto(`${stack.api.url}/#/batches?limit=2`);
    expect(await until(rows, (r) => r.length === 2, 'the first page')).toEqual(ids.slice(0, 2));
    await page.getByRole('link', { name: 'Next page' }).click();
    expect(await until(rows, (r) => r[0] === ids[2], 'the second page')).toEqual(ids.slice(2, 4));
    await page.getByRole('link', { name: 'First page' }).waitFor();
  });

  it("shows a second tenant none of the first's batches, not even hidden", async () => {
    const mine = (await teamA.batches.list()).data.map((b) => b.id);
    expect(mine.length).toBeGreaterThanOrEqual(3);
    const other = await browser.newPage();
    const otherErrors = consoleErrors(other);
    await other.goto(`${stack.api.url}/`);
    await other.getByLabel('API key').fill('sk-team-b');
    await other.getByRole('button', { name: 'Sign in' }).click();
    await other.getByText('No batches yet.').waitFor();
    const html = await other.content();
    for (const id of mine) expect(html).not.toContain(id);
    await screenshot(other, '14-second-tenant');

    await other.goto(`${stack.api.url}/#/batches/${mine[0]}`);
    await until(
      () => other.getByRole('alert').first().innerText(),
      (t) => t !== '',
      'the error',
    );
    expect(await other.getByRole('alert').first().innerText()).toBe(`No batch found with id '${mine[0]}'.`);
    expect(otherErrors.filter((e) => !EXPECTED.test(e))).toEqual([]);
    await other.close();
  });

  it('asks for no key when authentication is off', async () => {
    const open = await startTestStack({ temporalAddress: temporal.address });
    try {
      const tab = await browser.newPage();
      const tabErrors = consoleErrors(tab);
      await tab.goto(`${open.api.url}/`);
      await tab.getByText('No batches yet.').waitFor();
      expect(await tab.getByLabel('API key').count()).toBe(0);
      expect(await tab.getByRole('button', { name: 'Sign out' }).isVisible()).toBe(false);
      expect(tabErrors).toEqual([]);
      await tab.close();
    } finally {
      await open.stop();
    }
  });

  it('logged no errors on the page but the answers it expected', () => {
    expect(errors.filter((e) => !EXPECTED.test(e))).toEqual([]);
  });
});
