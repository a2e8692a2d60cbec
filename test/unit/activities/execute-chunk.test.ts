/**
 * Pins how a chunk attempt resumes: from the last heartbeat Temporal recorded, and past every segment an
 * earlier attempt stored after it, so a lost heartbeat or a lost completion does not send its lines again.
 * The activity runs in an activity context of its own (what Temporal's worker gives it), against the
 * fixture upstream and a local store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { createExecuteChunk } from '../../../activities/execute-chunk';
import type { ExecuteChunkInput } from '../../../activities/execute-chunk';
import { ManifestCache } from '../../../activities/batch-parts';
import { UpstreamClient } from '../../../upstream/client';
import { keys, newBatchId, newFileId, writeJson } from '../../../storage';
import { LocalFileStore } from '../../../storage/local-file-store';
import { createLogger } from '../../../telemetry/logger';
import { createRegistry, createWorkerMetrics } from '../../../telemetry/metrics';
import { runAsActivity } from '../../helpers/activity-context';
import { startFixtureUpstream } from '../../helpers/fixture-upstream';
import type { FixtureUpstream } from '../../helpers/fixture-upstream';

describe('executeChunk, resuming', () => {
  let upstream: FixtureUpstream;
  let dir: string;
  let client: UpstreamClient;
  beforeEach(async () => {
    upstream = await startFixtureUpstream();
    dir = await mkdtemp(path.join(os.tmpdir(), 'chunk-'));
    client = new UpstreamClient({
      default: { baseUrl: upstream.baseUrl, apiKey: null, maxConcurrency: 4 },
      routes: {},
      timeoutMs: 5000,
      maxResponseBytes: 1024 * 1024,
      maxAttempts: 2,
    });
  });
  afterEach(async () => {
    await client.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** One chunk of `count` lines, and a way to run an attempt of it with the given heartbeat details. */
  async function oneChunk(count: number) {
    const store = new LocalFileStore(dir);
    const lines = Array.from({ length: count }, (_, i) =>
      JSON.stringify({
        custom_id: `r-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'fixture-model', messages: [{ role: 'user', content: `line ${i}` }] },
      }),
    );
    const content = Buffer.from(lines.join('\n') + '\n');
    const fileId = newFileId();
    await store.write(keys.fileContent(fileId), content);
    const chunks = [{ index: 0, start: 0, end: content.length, firstLine: 0, count }];
    const batchId = newBatchId();
    const manifestKey = keys.batchManifest(batchId);
    await writeJson(store, manifestKey, { version: 1, inputFileId: fileId, total: count, chunks });
    const executeChunk = createExecuteChunk({
      store,
      upstream: client,
      manifests: new ManifestCache(store),
      logger: createLogger({ level: 'silent', service: 'test' }),
      metrics: createWorkerMetrics(createRegistry(), () => client.limits()),
    });
    const input: ExecuteChunkInput = {
      batchId,
      inputFileId: fileId,
      manifestKey,
      chunkIndex: 0,
      deadlineMs: Date.now() + 60_000,
    };
    const attempt = async (attemptNo: number, heartbeatDetails: unknown) => {
      const heartbeats: unknown[] = [];
      const output = await runAsActivity(() => executeChunk(input), {
        attempt: attemptNo,
        heartbeatDetails,
        onHeartbeat: (details) => heartbeats.push(details),
      });
      return { output, heartbeats };
    };
    return { store, batchId, attempt };
  }

  it('keeps the segments a finished attempt stored when Temporal recorded only its first heartbeat', async () => {
    const { attempt } = await oneChunk(1200); // three segments of at most 500 lines
    const first = await attempt(1, undefined);
    expect(first.output).toMatchObject({ completed: 1200, failed: 0, ranAll: true });
    expect(upstream.requestCount).toBe(1200);

    // The completion was lost and the only heartbeat Temporal kept is the first: nothing stored yet.
    const second = await attempt(2, first.heartbeats[0]);
    expect(second.output).toEqual(first.output);
    expect(upstream.requestCount).toBe(1200);
  });

  it('sends again only the lines after the last stored segment that follows on', async () => {
    const { store, batchId, attempt } = await oneChunk(1200);
    const first = await attempt(1, undefined);
    // Lose the last segment (as if the attempt crashed before writing it): its lines run again.
    const prefix = keys.chunkParts(batchId, 0);
    const parts = await store.list(prefix);
    const lastStart = Math.max(...parts.map((k) => Number(k.slice(prefix.length).split('.')[0])));
    for (const key of parts.filter((k) => k.slice(prefix.length).startsWith(String(lastStart).padStart(9, '0')))) {
      await store.delete(key);
    }
    const second = await attempt(2, first.heartbeats[0]);
    expect(second.output).toEqual(first.output);
    expect(upstream.requestCount).toBe(1200 + (1200 - lastStart));
    expect(lastStart).toBeGreaterThan(0);
  });
});
