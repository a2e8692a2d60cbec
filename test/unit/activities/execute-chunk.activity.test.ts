/**
 * Pins how a chunk attempt stops and resumes, run as Temporal runs it (the SDK's MockActivityEnvironment:
 * attempt, heartbeat details, heartbeats, cancel with its reason): a cancel or the deadline stops the
 * requests in flight and reports every line that did not run; a worker shutdown stores what finished and
 * fails the attempt so that the retry, from the last heartbeat, sends only the rest. Real storage (local
 * disk), the real upstream client against the fixture upstream; what finalizeBatch makes of the stored
 * results is the judge of "every line ends exactly once".
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Info } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/activity';
import { ActivityCancellationDetails } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../../activities';
import type { ExecuteChunkInput } from '../../../activities';
import type { BatchOutcome } from '../../../common/batch-lifecycle';
import { FailureType } from '../../../common/failure-types';
import { Catalog, keys, newFileId } from '../../../storage';
import { ModelCatalog } from '../../../upstream/models';
import { LocalFileStore } from '../../../storage/local-file-store';
import { createLogger } from '../../../telemetry/logger';
import { createRegistry, createWorkerMetrics } from '../../../telemetry/metrics';
import { UpstreamClient } from '../../../upstream/client';
import { newBatchRecord } from '../../helpers/batch-record';
import { startFixtureUpstream } from '../../helpers/fixture-upstream';
import type { FixtureUpstream } from '../../helpers/fixture-upstream';

jest.setTimeout(30_000);

/** Requests the upstream client sends at once. */
const CONCURRENCY = 4;
/** Request lines of the chunk. */
const LINES = 60;
/**
 * Lines [0, FAST) are answered at once; the next CONCURRENCY lines, the first time they arrive, are answered
 * a byte every 100 ms, which holds every sending loop until the attempt is stopped. Once the upstream holds
 * those CONCURRENCY requests, lines [0, FAST) have finished and lines from FAST + CONCURRENCY on were never
 * sent: a state reached by order, not by timing.
 */
const FAST = 20;

interface ResultLine {
  custom_id: string;
  response: { status_code: number } | null;
  error: { code: string; message: string } | null;
}

const customIds = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `r-${from + i}`);

/** Waits until `check` holds (polling); the bound is a safety net, not an assertion on time. */
async function until(check: () => boolean, what: string): Promise<void> {
  const giveUp = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > giveUp) throw new Error(`Still waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One attempt's activity environment and the heartbeats it sent, as Temporal would store them (JSON). */
function activityEnv(info: Partial<Info> = {}) {
  const env = new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (details: unknown) =>
    heartbeats.push(details === undefined ? undefined : JSON.parse(JSON.stringify(details))),
  );
  return { env, heartbeats };
}

/** `env.run` with the activity's own types (the SDK's signature leaves them to inference, which gives up). */
function run<A extends unknown[], R>(env: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A) {
  return env.run<A, R, typeof fn>(fn, ...args);
}

/** What the worker passes when it stops: a cancel with reason WORKER_SHUTDOWN that nobody requested. */
const SHUTDOWNS: [string, ActivityCancellationDetails][] = [
  ['from Core (workerShutdown set)', new ActivityCancellationDetails({ workerShutdown: true })],
  ['from the worker itself (no details)', new ActivityCancellationDetails()],
];

describe('executeChunk, stopped and resumed', () => {
  let upstream: FixtureUpstream;
  let dir: string;
  let client: UpstreamClient;
  let catalog: Catalog;
  let activities: ReturnType<typeof createActivities>;
  let executeChunk: ReturnType<typeof createActivities>['executeChunk'];

  beforeEach(async () => {
    upstream = await startFixtureUpstream();
    dir = await mkdtemp(path.join(os.tmpdir(), 'chunk-activity-'));
    client = new UpstreamClient({
      // Floor = ceiling: a fixed concurrency, whatever the latency of a loopback server shows the adaptive limit.
      default: { baseUrl: upstream.baseUrl, apiKey: null, maxConcurrency: CONCURRENCY, minConcurrency: CONCURRENCY },
      routes: {},
      timeoutMs: 60_000,
      maxResponseBytes: 1024 * 1024,
      maxAttempts: 2,
    });
    const store = new LocalFileStore(dir);
    catalog = new Catalog(store);
    const logger = createLogger({ level: 'silent', service: 'test' });
    const metrics = createWorkerMetrics(createRegistry(), () => client.limits());
    // As the worker builds them: executeChunk is createExecuteChunk's, with a real ManifestCache.
    activities = createActivities({
      catalog,
      upstream: client,
      models: new ModelCatalog({ default: { baseUrl: upstream.baseUrl, apiKey: null, maxConcurrency: 8 }, routes: {} }),
      webhook: { secret: null, allowInsecure: false },
      email: { smtpUrl: null, from: null, dashboardUrl: null },
      tenants: [],
      logger,
      metrics,
    });
    executeChunk = activities.executeChunk;
  });

  afterEach(async () => {
    await client.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * An uploaded input file of LINES requests, validated into a manifest of one chunk, as a batch starts;
   * with `slowLines`, the lines after FAST hold the upstream (see FAST).
   */
  async function oneChunkBatch({ slowLines = true } = {}) {
    const lines = Array.from({ length: LINES }, (_, i) =>
      JSON.stringify({
        custom_id: `r-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: {
          model: 'fixture-model',
          messages: [{ role: 'user', content: `line ${i}` }],
          ...(slowLines && i >= FAST && i < FAST + CONCURRENCY ? { fixture: { drip_ms: 100, times: 1 } } : {}),
        },
      }),
    );
    const content = Buffer.from(lines.join('\n') + '\n');
    const fileId = newFileId();
    await catalog.store.write(keys.fileContent(fileId), content);
    const record = newBatchRecord({ inputFileId: fileId });
    await catalog.putFile({
      owner: record.owner,
      file: {
        id: fileId,
        object: 'file',
        bytes: content.length,
        created_at: record.batch.created_at,
        expires_at: null,
        filename: 'input.jsonl',
        purpose: 'batch',
        status: 'processed',
        status_details: null,
      },
    });
    const options = {
      chunkMinLines: LINES,
      chunkMaxLines: LINES,
      chunkMaxBytes: 1 << 20,
      chunkWindow: 1,
      maxRequests: 1000,
    };
    const validation = await run(activityEnv().env, activities.validateInputFile, { record, options });
    if (!validation.ok) throw new Error(`invalid test input: ${JSON.stringify(validation.errors)}`);
    expect(validation.chunkCount).toBe(1);
    const { manifestKey } = validation;
    const input = (deadlineMs = Date.now() + 3_600_000): ExecuteChunkInput => ({
      batchId: record.batch.id,
      inputFileId: fileId,
      manifestKey,
      chunkIndex: 0,
      deadlineMs,
    });

    /** Finalizes the batch with `outcome` and reads its result files back. */
    const finalize = async (outcome: BatchOutcome) => {
      const final = await run(activityEnv().env, activities.finalizeBatch, { record, manifestKey, outcome });
      const read = async (fileId: string | null): Promise<ResultLine[]> => {
        if (fileId === null) return [];
        const bytes = await catalog.store.read(keys.fileContent(fileId));
        return (bytes?.toString('utf8') ?? '')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as ResultLine);
      };
      const output = await read(final.batch.output_file_id);
      const errors = await read(final.batch.error_file_id);
      // Every request of the batch has exactly one result line.
      expect([...output, ...errors].map((l) => l.custom_id).sort()).toEqual(customIds(0, LINES).sort());
      return { final, output, errors };
    };
    return { input, finalize };
  }

  /** How many times each line reached the upstream, by line number. */
  function sentCounts(): number[] {
    const counts = new Array<number>(LINES).fill(0);
    for (const [body, n] of upstream.seen) {
      const { messages } = JSON.parse(body) as { messages: { content: string }[] };
      counts[Number(messages[0].content.replace('line ', ''))] += n;
    }
    return counts;
  }

  /** The upstream holds the slow requests and nothing else is on its way: see FAST. */
  const heldAtTheSlowLines = () =>
    until(
      () => upstream.requests.length === FAST + CONCURRENCY && upstream.inFlight === CONCURRENCY,
      'the slow lines in flight',
    );

  it('cancelled while requests are in flight: stops them, stores what finished, throws CancelledFailure; finalize reports the rest as cancelled', async () => {
    const { input, finalize } = await oneChunkBatch();
    const { env, heartbeats } = activityEnv();
    const attempt = run(env, executeChunk, input());
    await heldAtTheSlowLines();
    env.cancel();

    await expect(attempt).rejects.toBeInstanceOf(CancelledFailure);
    await until(() => upstream.inFlight === 0, 'the requests in flight aborted');
    expect(upstream.requests.length).toBe(FAST + CONCURRENCY); // nothing sent after the cancel
    expect(heartbeats.length).toBeGreaterThan(0);
    // The last heartbeat names the chunk and counts what ran: the API shows a running chunk's progress by it.
    expect(heartbeats[heartbeats.length - 1]).toMatchObject({ chunkIndex: 0, completed: FAST, failed: 0 });

    const { final, output, errors } = await finalize('cancelled');
    expect(final.batch.status).toBe('cancelled');
    expect(final.batch.request_counts).toEqual({ total: LINES, completed: FAST, failed: LINES - FAST });
    expect(output.map((l) => l.custom_id).sort()).toEqual(customIds(0, FAST).sort());
    expect(output.every((l) => l.response?.status_code === 200 && l.error === null)).toBe(true);
    expect(errors.map((l) => l.custom_id).sort()).toEqual(customIds(FAST, LINES).sort());
    expect(errors.every((l) => l.response === null && l.error?.code === 'batch_cancelled')).toBe(true);
  });

  it.each(SHUTDOWNS)(
    'stopped by a worker shutdown %s: stops its requests and fails with a retryable WorkerShutdown, not as cancelled',
    async (_, details) => {
      const { input } = await oneChunkBatch();
      const { env } = activityEnv();
      const attempt = run(env, executeChunk, input());
      await heldAtTheSlowLines();
      env.cancel('WORKER_SHUTDOWN', details);

      const err: unknown = await attempt.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ApplicationFailure);
      expect(err).not.toBeInstanceOf(CancelledFailure);
      expect(err).toMatchObject({ type: FailureType.WorkerShutdown, nonRetryable: false });
      await until(() => upstream.inFlight === 0, 'the requests in flight aborted');
      expect(upstream.requests.length).toBe(FAST + CONCURRENCY);
    },
  );

  // A cancel that reaches the activity before it listens for one (while it reads the manifest and looks for
  // stored segments) must still stop it: otherwise a shutdown's grace time ends unnoticed.
  it('stopped by a worker shutdown while it starts: fails with WorkerShutdown and sends nothing', async () => {
    const { input } = await oneChunkBatch({ slowLines: false });
    const { env } = activityEnv();
    const attempt = run(env, executeChunk, input());
    env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true })); // before its first await ends

    await expect(attempt).rejects.toMatchObject({ type: FailureType.WorkerShutdown });
    expect(upstream.requests.length).toBe(0);
  });

  it.each([
    ['the last heartbeat of the stopped attempt', true],
    ['no heartbeat (Temporal recorded none)', false],
  ])(
    'retried after a worker shutdown from %s: sends only the lines that had not finished, and every line ends once',
    async (_, withHeartbeat) => {
      const { input, finalize } = await oneChunkBatch();
      const first = activityEnv();
      const stopped = run(first.env, executeChunk, input());
      await heldAtTheSlowLines();
      first.env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
      await expect(stopped).rejects.toMatchObject({ type: FailureType.WorkerShutdown });
      const sentByFirst = sentCounts();

      const heartbeatDetails = withHeartbeat ? first.heartbeats[first.heartbeats.length - 1] : undefined;
      const second = activityEnv({ attempt: 2, heartbeatDetails });
      const output = await run(second.env, executeChunk, input());

      expect(output).toMatchObject({ completed: LINES, failed: 0, ranAll: true });
      const sentBySecond = sentCounts().map((n, line) => n - sentByFirst[line]);
      expect(sentBySecond.slice(0, FAST)).toEqual(new Array(FAST).fill(0)); // stored before the shutdown: not sent again
      expect(sentBySecond.slice(FAST)).toEqual(new Array(LINES - FAST).fill(1));

      const { final, output: lines } = await finalize('completed');
      expect(final.batch.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });
      expect(final.batch.usage).toEqual(output.usage); // what the chunk reported is what it stored
      expect(lines.every((l) => l.response?.status_code === 200)).toBe(true);
    },
  );

  it.each([
    ['the last heartbeat of the running attempt', true],
    ['no heartbeat (Temporal was unreachable)', false],
  ])(
    'retried on the worker where the timed-out attempt still runs, from %s: stops it, resumes after what it stored, and every line ends once',
    async (_, withHeartbeat) => {
      const { input, finalize } = await oneChunkBatch();
      const first = activityEnv();
      const running = run(first.env, executeChunk, input());
      await heldAtTheSlowLines();

      // Temporal timed the first attempt out (nothing cancelled it here) and starts the next on this worker.
      const heartbeatDetails = withHeartbeat ? first.heartbeats[first.heartbeats.length - 1] : undefined;
      const second = activityEnv({ attempt: 2, heartbeatDetails });
      const retried = run(second.env, executeChunk, input());

      await expect(running).rejects.toMatchObject({ type: FailureType.ChunkSuperseded });
      const output = await retried;
      expect(output).toMatchObject({ completed: LINES, failed: 0, ranAll: true });
      await until(() => upstream.inFlight === 0, 'no request in flight');
      const sent = sentCounts();
      // The fast lines finished before the takeover and were stored by the first attempt: sent once. The slow
      // ones were in flight, aborted and sent again; the rest were sent once, by the second attempt only.
      expect(sent.slice(0, FAST)).toEqual(new Array(FAST).fill(1));
      expect(sent.slice(FAST, FAST + CONCURRENCY)).toEqual(new Array(CONCURRENCY).fill(2));
      expect(sent.slice(FAST + CONCURRENCY)).toEqual(new Array(LINES - FAST - CONCURRENCY).fill(1));

      const { final, output: lines } = await finalize('completed');
      expect(final.batch.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });
      expect(lines.every((l) => l.response?.status_code === 200)).toBe(true);
    },
  );

  it('with its deadline already passed: sends nothing and returns cut short; finalize reports every line expired', async () => {
    const { input, finalize } = await oneChunkBatch();
    const output = await run(activityEnv().env, executeChunk, input(Date.now() - 1000));

    expect(output).toMatchObject({ completed: 0, failed: 0, ranAll: false });
    expect(upstream.requests.length).toBe(0);
    const { final, errors } = await finalize('expired');
    expect(final.batch.request_counts).toEqual({ total: LINES, completed: 0, failed: LINES });
    expect(errors.every((l) => l.error?.code === 'batch_expired')).toBe(true);
  });

  it('reaching its deadline midway: stops the requests in flight, stores what finished and returns cut short; the rest expire', async () => {
    const { input, finalize } = await oneChunkBatch();
    // The slow lines hold the chunk until the deadline; how many fast lines finished by then is not asserted.
    const output = await run(activityEnv().env, executeChunk, input(Date.now() + 2000));

    expect(output.ranAll).toBe(false);
    expect(output.completed).toBeLessThanOrEqual(FAST);
    await until(() => upstream.inFlight === 0, 'the requests in flight aborted');
    expect(upstream.requests.length).toBeLessThanOrEqual(FAST + CONCURRENCY);

    const { final, output: lines, errors } = await finalize('expired');
    expect(final.batch.request_counts).toEqual({
      total: LINES,
      completed: output.completed,
      failed: LINES - output.completed,
    });
    expect(lines.every((l) => Number(l.custom_id.slice(2)) < FAST)).toBe(true);
    expect(errors.every((l) => l.error?.code === 'batch_expired')).toBe(true);
  });
});
