/**
 * `npm run bench`: the figures of BENCHMARKS.md, each against a baseline measured in the same run.
 *
 * Every part runs as its own process, as in production: the Temporal dev server, the fixture upstream,
 * the API (`start:api`) and the worker(s) (`start:worker`); this process is only the client. Scenarios
 * (BENCH_SCENARIOS, comma-separated; default all):
 * - throughput: a BENCH_REQUESTS-line batch (default 50,000) against a zero-latency upstream with
 *   UPSTREAM_MAX_CONCURRENCY=64, from create to completed, against a plain client with 64 requests in
 *   flight sending the same lines to the same upstream and writing the same JSONL; history length.
 * - memory: a 50,000-line, ~200 MB file: upload, validation speed, the batch, the download; peak RSS of
 *   the API and of the worker (VmHWM).
 * - concurrent: three batches at once; the progress of each over time.
 * - workers: two worker processes on one task queue; how the chunks of one batch were split.
 * - executor: the chunk activity alone, in this process (compiled, from dist/), without Temporal, the API
 *   or the polling: the same lines and upstream as throughput, chunked as a batch is, BENCH_WINDOW chunks
 *   at a time (default 8, as BATCH_CHUNK_WINDOW); wall time, CPU time and GC pauses against the plain
 *   client in the same process. It separates what the chunk code costs from what the rest of the stack
 *   costs.
 * BENCH_ENV (JSON) adds environment variables to the API and worker processes, to try settings;
 * BENCH_CPU_PROFILE (a directory) makes each worker process write a V8 CPU profile there when it stops.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { once } from 'node:events';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import OpenAI from 'openai';
import { Agent, request } from 'undici';
import type * as ExecuteChunkModule from '../activities/execute-chunk';
import type * as ManifestModule from '../activities/manifest';
import type * as UpstreamModule from '../upstream/client';
import type * as StorageModule from '../storage';
import type * as LocalStoreModule from '../storage/local-file-store';
import type * as LoggerModule from '../telemetry/logger';
import type * as MetricsModule from '../telemetry/metrics';
import { startTemporalDevServer } from '../standalone/temporal-dev-server';
import type { RunningDevServer } from '../standalone/temporal-dev-server';
import { runAsActivity } from '../test/helpers/activity-context';
import { freePort } from '../test/helpers/ports';
import { streamOversizedUpload } from '../test/helpers/oversized-upload';

const ROOT = path.resolve(__dirname, '..');
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 50_000);
/** Throughput runs, alternating baseline and batch; the medians are compared (this machine is noisy). */
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CONCURRENCY = 64;
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? 'throughput,executor,memory,concurrent,workers').split(',');
const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];
const EXTRA_ENV = JSON.parse(process.env.BENCH_ENV ?? '{}') as Record<string, string>;

interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Peak resident memory of the process so far (VmHWM), in MiB. */
  peakRssMiB: () => Promise<number>;
  stop: () => Promise<void>;
}

function startProcess(args: string[], env: Record<string, string>, ready: RegExp): Promise<Proc> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const proc: Proc = {
    child,
    output: () => output,
    async peakRssMiB() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      if (ready.test(output)) resolve(proc);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}):\n${output}`)));
  });
}

/** CPU seconds (user + system) used so far by each process and its descendants, from /proc. */
async function cpuSecondsOfTrees(pids: Record<string, number | undefined>): Promise<Record<string, number>> {
  const stats = new Map<number, { ppid: number; seconds: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { ppid, seconds } = parseStat(await readFile(`/proc/${entry}/stat`, 'utf8'));
      stats.set(Number(entry), { ppid, seconds });
    } catch {
      // The process ended meanwhile.
    }
  }
  const result: Record<string, number> = {};
  for (const [name, root] of Object.entries(pids)) {
    let total = 0;
    const pending = root === undefined ? [] : [root];
    while (pending.length > 0) {
      const pid = pending.pop()!;
      total += stats.get(pid)?.seconds ?? 0;
      for (const [child, s] of stats) if (s.ppid === pid) pending.push(child);
    }
    result[name] = total;
  }
  return result;
}

/** CPU seconds of one process's threads by thread: the main thread, and the others by name. */
async function cpuSecondsByThread(pid: number | undefined): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  if (pid === undefined) return result;
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    try {
      const { name, seconds } = parseStat(await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      const key = tid === String(pid) ? 'main thread' : name.replace(/[\d-]+$/, '');
      result[key] = (result[key] ?? 0) + seconds;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return result;
}

/** The name, parent and CPU seconds (user + system) in a /proc stat line. */
function parseStat(text: string): { name: string; ppid: number; seconds: number } {
  // The name is in parentheses and may hold spaces; the fields after it are numbered from 3 (state).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return {
    name: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')),
    ppid: Number(fields[1]),
    seconds: ticks / 100,
  };
}

interface Stack {
  temporal: RunningDevServer;
  upstreamUrl: string;
  dataDir: string;
  apiUrl: string;
  api: Proc;
  workers: Proc[];
  upstream: Proc;
  stop(): Promise<void>;
}

async function startStack(workerCount: number, env: Record<string, string> = {}): Promise<Stack> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'batch-bench-'));
  const temporalServer = await startTemporalDevServer({
    cliPath: process.env.TEMPORAL_CLI_PATH ?? null,
    port: await freePort(),
    uiPort: null,
    dbFile: null,
    namespace: 'default',
  });
  const { upstream, upstreamUrl } = await startUpstream();
  const apiPort = await freePort();
  const common = {
    DATA_DIR: dataDir,
    TEMPORAL_ADDRESS: temporalServer.address,
    UPSTREAM_BASE_URL: upstreamUrl,
    UPSTREAM_MAX_CONCURRENCY: String(CONCURRENCY),
    ...EXTRA_ENV,
    ...env,
  };
  const workers: Proc[] = [];
  for (let i = 0; i < workerCount; i++) {
    const metricsPort = String(await freePort());
    workers.push(
      await startProcess(
        [
          ...(process.env.BENCH_CPU_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROFILE}`] : []),
          'scripts/launch.js',
          'worker',
        ],
        { ...common, WORKER_METRICS_PORT: metricsPort },
        /Worker polling/,
      ),
    );
  }
  const api = await startProcess(
    ['scripts/launch.js', 'api'],
    { ...common, PORT: String(apiPort), AUTH_DISABLED: 'true' },
    /API listening/,
  );
  return {
    temporal: temporalServer,
    upstreamUrl,
    dataDir,
    apiUrl: `http://127.0.0.1:${apiPort}/v1`,
    api,
    workers,
    upstream,
    async stop() {
      await api.stop();
      await Promise.all(workers.map((w) => w.stop()));
      await upstream.stop();
      await temporalServer.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Small chat requests, as in most batches. */
function smallLine(i: number): string {
  return JSON.stringify({
    custom_id: `bench-${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'bench-model', messages: [{ role: 'user', content: `Say something about the number ${i}.` }] },
  });
}

/** ~4 KB chat requests: 50,000 of them make the ~200 MB file of OpenAI's limit. */
function bigLine(i: number): string {
  const filler = 'lorem ipsum dolor sit amet '.repeat(150).slice(0, 4000);
  return JSON.stringify({
    custom_id: `big-${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'bench-model', messages: [{ role: 'user', content: `${i} ${filler}` }] },
  });
}

/** Writes a JSONL file line by line (never whole in memory) and returns its path and size. */
async function writeInput(dir: string, name: string, count: number, line: (i: number) => string) {
  const file = path.join(dir, name);
  await pipeline(
    Readable.from(
      (function* () {
        for (let i = 0; i < count; i++) yield `${line(i)}\n`;
      })(),
    ),
    createWriteStream(file),
  );
  return { file, bytes: (await stat(file)).size };
}

/** The baseline: what a user would write without us — the lines, 64 in flight, results to a JSONL file. */
async function plainClient(upstreamUrl: string, inputFile: string, outFile: string): Promise<number> {
  return (await measured(() => plainRun(upstreamUrl, inputFile, outFile))).wallMs;
}

/** Wall time, CPU time of this process (all threads) and GC pauses, while `run` runs. */
async function measured(run: () => Promise<unknown>): Promise<{ wallMs: number; cpuMs: number; gcMs: number }> {
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await new Promise((r) => setImmediate(r)); // the last GC entries
  gc.disconnect();
  return { wallMs, cpuMs: (used.user + used.system) / 1000, gcMs };
}

async function plainRun(upstreamUrl: string, inputFile: string, outFile: string): Promise<void> {
  const lines = (await readFile(inputFile, 'utf8')).split('\n').filter(Boolean);
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  const out = createWriteStream(outFile);
  let draining: Promise<void> | null = null;
  let next = 0;
  const loop = async () => {
    while (next < lines.length) {
      const line = JSON.parse(lines[next++]) as { custom_id: string; body: unknown };
      const res = await request(`${upstreamUrl}/chat/completions`, {
        dispatcher: agent,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(line.body),
      });
      const body = await res.body.text();
      const text = `{"custom_id":${JSON.stringify(line.custom_id)},"response":{"status_code":${res.statusCode},"body":${body}}}\n`;
      if (!out.write(text)) {
        draining ??= once(out, 'drain').then(() => {
          draining = null;
        });
        await draining;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  out.end();
  await once(out, 'finish');
  await agent.close();
}

async function uploadFile(client: OpenAI, file: string) {
  const { toFile } = await import('openai');
  const { createReadStream } = await import('node:fs');
  return client.files.create({ file: await toFile(createReadStream(file), path.basename(file)), purpose: 'batch' });
}

/** Creates a batch and polls it to the end; times to in_progress and to the end, and the progress seen. */
async function runBatch(client: OpenAI, fileId: string, onPoll?: (b: OpenAI.Batches.Batch, ms: number) => void) {
  const started = performance.now();
  const created = await client.batches.create({
    input_file_id: fileId,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  let batch = created;
  let inProgressMs: number | null = null;
  while (!TERMINAL.includes(batch.status)) {
    await new Promise((r) => setTimeout(r, Number(process.env.BENCH_POLL_MS ?? 100)));
    batch = await client.batches.retrieve(created.id);
    const ms = performance.now() - started;
    if (inProgressMs === null && batch.status !== 'validating') inProgressMs = ms;
    onPoll?.(batch, ms);
  }
  return { batch, totalMs: performance.now() - started, inProgressMs: inProgressMs ?? performance.now() - started };
}

/**
 * When each activity type ran in a history (first scheduled → last closed), in ms from the workflow's start,
 * and when the workflow closed.
 */
function activitySpans(history: Awaited<ReturnType<typeof historyOf>>): Record<string, [number, number]> {
  const at = (e: temporal.api.history.v1.IHistoryEvent) =>
    Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
  const typeOf = new Map<number, string>();
  const spans: Record<string, [number, number]> = {};
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) typeOf.set(Number(e.eventId), scheduled.activityType?.name ?? '?');
    const closed =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (!scheduled && !closed) continue;
    const type = typeOf.get(Number(closed?.scheduledEventId ?? e.eventId));
    if (type === undefined) continue;
    const span = (spans[type] ??= [at(e), at(e)]);
    span[0] = Math.min(span[0], at(e));
    span[1] = Math.max(span[1], at(e));
  }
  const events = history.events ?? [];
  const start = events.length > 0 ? at(events[0]) : 0;
  const closed = events.length > 0 ? at(events[events.length - 1]) : 0;
  return Object.fromEntries(
    [...Object.entries(spans), ['workflow closed', [closed, closed]] as const].map(([k, [a, b]]) => [
      k,
      [a - start, b - start],
    ]),
  );
}

async function historyOf(address: string, batchId: string) {
  const connection = await Connection.connect({ address });
  try {
    return await new Client({ connection }).workflow.getHandle(batchId).fetchHistory();
  } finally {
    await connection.close();
  }
}

function table(title: string, rows: [string, string][]): void {
  console.log(`\n## ${title}`);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

async function throughput(): Promise<void> {
  const stack = await startStack(1);
  try {
    const input = await writeInput(stack.dataDir, 'throughput.jsonl', REQUESTS, smallLine);
    const client = new OpenAI({ baseURL: stack.apiUrl, apiKey: 'bench', maxRetries: 0 });
    const file = await uploadFile(client, input.file);
    const baselines: number[] = [];
    const batches: number[] = [];
    let last: Awaited<ReturnType<typeof runBatch>> | undefined;
    // CPU by process during each run: the machine's two cores are shared by all of them.
    const pids = {
      upstream: stack.upstream.child.pid,
      'Temporal server': stack.temporal.pid,
      API: stack.api.child.pid,
      worker: stack.workers[0].child.pid,
    };
    const names = ['bench (client)', ...Object.keys(pids)];
    const cpuPlain: Record<string, number>[] = [];
    const cpuBatch: Record<string, number>[] = [];
    let workerThreads: [string, number][] = [];
    const cpuDuring = async <T>(into: Record<string, number>[], run: () => Promise<T>): Promise<T> => {
      const before = await cpuSecondsOfTrees(pids);
      const own = process.cpuUsage();
      const result = await run();
      const used = process.cpuUsage(own);
      const after = await cpuSecondsOfTrees(pids);
      into.push({
        'bench (client)': (used.user + used.system) / 1e6,
        ...Object.fromEntries(Object.keys(pids).map((k) => [k, after[k] - before[k]])),
      });
      return result;
    };
    for (let run = 0; run < RUNS; run++) {
      baselines.push(
        await cpuDuring(cpuPlain, () =>
          plainClient(stack.upstreamUrl, input.file, path.join(stack.dataDir, 'baseline.jsonl')),
        ),
      );
      const threadsBefore = await cpuSecondsByThread(pids.worker);
      last = await cpuDuring(cpuBatch, () => runBatch(client, file.id));
      const threadsAfter = await cpuSecondsByThread(pids.worker);
      workerThreads = Object.entries(threadsAfter)
        .map(([name, s]): [string, number] => [name, s - (threadsBefore[name] ?? 0)])
        .filter(([, s]) => s >= 0.01)
        .sort((a, b) => b[1] - a[1]);
      if (last.batch.status !== 'completed' || last.batch.request_counts?.completed !== REQUESTS) {
        throw new Error(`The batch ended ${last.batch.status} with ${JSON.stringify(last.batch.request_counts)}`);
      }
      batches.push(last.totalMs);
    }
    const baselineMs = median(baselines);
    const totalMs = median(batches);
    const history = await historyOf(stack.temporal.address, last!.batch.id);
    table(`throughput: ${REQUESTS} requests (${mb(input.bytes)}), ${CONCURRENCY} in flight, upstream latency 0 ms`, [
      [
        'plain concurrent client (median)',
        `${seconds(baselineMs)} (${Math.round(REQUESTS / (baselineMs / 1000))} req/s)`,
      ],
      ['batch, create → completed (median)', `${seconds(totalMs)} (${Math.round(REQUESTS / (totalMs / 1000))} req/s)`],
      ['ratio batch / plain', `${(totalMs / baselineMs).toFixed(2)}×`],
      ['runs (plain / batch)', baselines.map((b, i) => `${seconds(b)} / ${seconds(batches[i])}`).join(', ')],
      ['create → in_progress (last run)', seconds(last!.inProgressMs)],
      ['Temporal history events', String(history.events?.length ?? 0)],
      [
        'timeline from the workflow start (last run)',
        Object.entries(activitySpans(history))
          .map(([type, [from, to]]) =>
            from === to ? `${type} ${seconds(to)}` : `${type} ${seconds(from)}–${seconds(to)}`,
          )
          .join(', '),
      ],
      ['peak RSS: API / worker', `${await stack.api.peakRssMiB()} / ${await stack.workers[0].peakRssMiB()} MiB`],
      ...names.map((name): [string, string] => [
        `CPU of ${name} (median): plain / batch`,
        `${median(cpuPlain.map((c) => c[name])).toFixed(2)} s / ${median(cpuBatch.map((c) => c[name])).toFixed(2)} s`,
      ]),
      [
        'CPU of all (median): plain / batch',
        `${median(cpuPlain.map(sum)).toFixed(2)} s / ${median(cpuBatch.map(sum)).toFixed(2)} s`,
      ],
      ['worker CPU by thread (last run)', workerThreads.map(([name, s]) => `${name} ${s.toFixed(2)} s`).join(', ')],
    ]);
  } finally {
    await stack.stop();
  }
}

/**
 * The chunk activity alone: `executeChunk` from dist/, run over a batch's chunks in this process, in an
 * activity context of its own (what Temporal's worker would give it: no heartbeats go anywhere).
 */
async function executor(): Promise<void> {
  const dist = (p: string) => path.join(ROOT, 'dist', p);
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { createExecuteChunk } = require(dist('activities/execute-chunk')) as typeof ExecuteChunkModule;
  const { ManifestCache, planChunks } = require(dist('activities/manifest')) as typeof ManifestModule;
  const { UpstreamClient } = require(dist('upstream/client')) as typeof UpstreamModule;
  const storage = require(dist('storage')) as typeof StorageModule;
  const { LocalFileStore } = require(dist('storage/local-file-store')) as typeof LocalStoreModule;
  const { createLogger } = require(dist('telemetry/logger')) as typeof LoggerModule;
  const metricsModule = require(dist('telemetry/metrics')) as typeof MetricsModule;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const window = Number(process.env.BENCH_WINDOW ?? 8);

  const stack = await startUpstreamOnly();
  try {
    const store = new LocalFileStore(stack.dataDir);
    const input = await writeInput(stack.dataDir, 'executor.jsonl', REQUESTS, smallLine);
    const fileId = storage.newFileId();
    const content = await readFile(input.file);
    await store.write(storage.keys.fileContent(fileId), content);
    const starts: number[] = [];
    for (let at = 0; at < content.length; at = content.indexOf(10, at) + 1 || content.length) starts.push(at);
    // As a batch is cut with the default BATCH_CHUNK_MAX_LINES and BATCH_CHUNK_MAX_BYTES.
    const chunks = planChunks(starts, input.bytes, {
      chunkMaxLines: 10_000,
      chunkMaxBytes: 32 * 1024 * 1024,
      chunkWindow: window,
    });
    const upstream = new UpstreamClient({
      default: { baseUrl: stack.upstreamUrl, apiKey: null, maxConcurrency: CONCURRENCY },
      routes: {},
      timeoutMs: 60_000,
      maxResponseBytes: 128 * 1024 * 1024,
      maxAttempts: 3,
    });
    const executeChunk = createExecuteChunk({
      store,
      upstream,
      manifests: new ManifestCache(store),
      logger: createLogger({ level: 'warn', service: 'bench' }),
      metrics: metricsModule.createWorkerMetrics(metricsModule.createRegistry(), () => upstream.limits()),
    });
    const runChunks = async () => {
      const batchId = storage.newBatchId();
      const manifestKey = storage.keys.batchManifest(batchId);
      await storage.writeJson(store, manifestKey, { version: 1, inputFileId: fileId, total: starts.length, chunks });
      let next = 0;
      const runner = async () => {
        while (next < chunks.length) {
          const chunkIndex = next++;
          const deadlineMs = Date.now() + 3_600_000;
          await runAsActivity(() =>
            executeChunk({ batchId, inputFileId: fileId, manifestKey, chunkIndex, deadlineMs }),
          );
        }
      };
      await Promise.all(Array.from({ length: window }, runner));
    };
    const plain: Awaited<ReturnType<typeof measured>>[] = [];
    const chunked: Awaited<ReturnType<typeof measured>>[] = [];
    for (let run = 0; run < RUNS; run++) {
      plain.push(
        await measured(() => plainRun(stack.upstreamUrl, input.file, path.join(stack.dataDir, 'plain.jsonl'))),
      );
      chunked.push(await measured(runChunks));
    }
    await upstream.close();
    const show = (m: Awaited<ReturnType<typeof measured>>[]) => {
      const wall = median(m.map((x) => x.wallMs));
      const cpu = median(m.map((x) => x.cpuMs));
      const gc = median(m.map((x) => x.gcMs));
      return `${seconds(wall)} wall, ${seconds(cpu)} CPU, ${seconds(gc)} in GC pauses`;
    };
    table(`executor: ${REQUESTS} requests in ${chunks.length} chunks, ${window} at a time, in one process (medians)`, [
      ['plain concurrent client', show(plain)],
      ['executeChunk over the chunks', show(chunked)],
      [
        'ratio (wall / CPU)',
        `${(median(chunked.map((x) => x.wallMs)) / median(plain.map((x) => x.wallMs))).toFixed(2)}× / ${(
          median(chunked.map((x) => x.cpuMs)) / median(plain.map((x) => x.cpuMs))
        ).toFixed(2)}×`,
      ],
    ]);
  } finally {
    await stack.stop();
  }
}

/** The fixture upstream as a process of its own. */
async function startUpstream(): Promise<{ upstream: Proc; upstreamUrl: string }> {
  const port = await freePort();
  const upstream = await startProcess(
    ['--import', 'tsx', 'test/helpers/fixture-upstream-cli.ts'],
    { FIXTURE_PORT: String(port) },
    /Fixture upstream/,
  );
  return { upstream, upstreamUrl: `http://127.0.0.1:${port}/v1` };
}

async function startUpstreamOnly() {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'batch-bench-'));
  const { upstream, upstreamUrl } = await startUpstream();
  return {
    dataDir,
    upstreamUrl,
    async stop() {
      await upstream.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function memory(): Promise<void> {
  const stack = await startStack(1);
  try {
    const input = await writeInput(stack.dataDir, 'big.jsonl', 50_000, bigLine);
    const client = new OpenAI({ baseURL: stack.apiUrl, apiKey: 'bench', maxRetries: 0, timeout: 600_000 });
    const uploadStarted = performance.now();
    const file = await uploadFile(client, input.file);
    const uploadMs = performance.now() - uploadStarted;
    const apiAfterUpload = await stack.api.peakRssMiB();
    const { batch, totalMs, inProgressMs } = await runBatch(client, file.id);
    if (batch.status !== 'completed') throw new Error(`The batch ended ${batch.status}`);
    const downloadStarted = performance.now();
    const res = await client.files.content(batch.output_file_id!);
    let downloaded = 0;
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) downloaded += part.length;
    const downloadMs = performance.now() - downloadStarted;
    const apiAfterDownload = await stack.api.peakRssMiB();
    const refused = await streamOversizedUpload(`${stack.apiUrl}/files`, 400 * 1024 * 1024, 'bench');
    table(`memory: 50,000 requests in ${mb(input.bytes)}`, [
      ['upload', `${seconds(uploadMs)} (${mb(input.bytes / (uploadMs / 1000))}/s)`],
      ['API peak RSS after upload', `${apiAfterUpload} MiB (target < 300)`],
      ['create → in_progress (validation)', `${seconds(inProgressMs)} (${mb(input.bytes / (inProgressMs / 1000))}/s)`],
      ['create → completed', seconds(totalMs)],
      ['worker peak RSS', `${await stack.workers[0].peakRssMiB()} MiB (target < 400)`],
      ['download of the output file', `${mb(downloaded)} in ${seconds(downloadMs)}`],
      ['API peak RSS after download', `${apiAfterDownload} MiB`],
      [
        'a 400 MB upload over the 200 MB limit',
        `${refused.status} after ${mb(refused.sentBytes)} sent; API peak RSS then ${await stack.api.peakRssMiB()} MiB`,
      ],
    ]);
  } finally {
    await stack.stop();
  }
}

async function concurrent(): Promise<void> {
  const stack = await startStack(1, { UPSTREAM_MAX_CONCURRENCY: '16' });
  try {
    const client = new OpenAI({ baseURL: stack.apiUrl, apiKey: 'bench', maxRetries: 0 });
    const sizes = [20_000, 5_000, 1_000];
    const files = [];
    for (const [n, size] of sizes.entries()) {
      const input = await writeInput(stack.dataDir, `c${n}.jsonl`, size, smallLine);
      files.push(await uploadFile(client, input.file));
    }
    const progress: string[][] = sizes.map(() => []);
    const started = performance.now();
    const snapshot = (i: number) => (b: OpenAI.Batches.Batch) => {
      const done = (b.request_counts?.completed ?? 0) + (b.request_counts?.failed ?? 0);
      progress[i][Math.floor((performance.now() - started) / 1000)] = `${Math.round((100 * done) / sizes[i])}%`;
    };
    // The big batch starts first; the small ones arrive while it runs.
    const runs = [runBatch(client, files[0].id, snapshot(0))];
    await new Promise((r) => setTimeout(r, 500));
    runs.push(runBatch(client, files[1].id, snapshot(1)), runBatch(client, files[2].id, snapshot(2)));
    const results = await Promise.all(runs);
    const rows: [string, string][] = results.map((r, i) => [
      `batch ${i + 1} (${sizes[i]} requests)`,
      `done in ${seconds(r.totalMs)}; per second: ${progress[i].map((p) => p ?? '·').join(' ')}`,
    ]);
    table('concurrent: three batches on one worker, UPSTREAM_MAX_CONCURRENCY=16, zero latency', rows);
  } finally {
    await stack.stop();
  }
}

async function workers(): Promise<void> {
  const stack = await startStack(2);
  try {
    const client = new OpenAI({ baseURL: stack.apiUrl, apiKey: 'bench', maxRetries: 0 });
    const input = await writeInput(stack.dataDir, 'split.jsonl', REQUESTS, smallLine);
    const file = await uploadFile(client, input.file);
    const { batch, totalMs } = await runBatch(client, file.id);
    const history = await historyOf(stack.temporal.address, batch.id);
    const byWorker = new Map<string, number>();
    for (const event of history.events ?? []) {
      const attrs = event.activityTaskStartedEventAttributes;
      if (event.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED && attrs) {
        byWorker.set(attrs.identity ?? '?', (byWorker.get(attrs.identity ?? '?') ?? 0) + 1);
      }
    }
    table(`workers: two worker processes, one ${REQUESTS}-request batch`, [
      ['create → completed', `${seconds(totalMs)} (${Math.round(REQUESTS / (totalMs / 1000))} req/s)`],
      ...[...byWorker.entries()].map(([id, n]): [string, string] => [`activities on ${id}`, String(n)]),
    ]);
  } finally {
    await stack.stop();
  }
}

async function main() {
  // Build once, so the processes do not race to write dist/.
  const tsc = spawn(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  const [code] = (await once(tsc, 'exit')) as [number];
  if (code !== 0) throw new Error('The build failed');
  console.log(`# npm run bench — ${new Date().toISOString()}, ${os.cpus().length} CPUs, Node ${process.version}`);
  const all: Record<string, () => Promise<void>> = { throughput, executor, memory, concurrent, workers };
  for (const name of SCENARIOS) {
    const scenario = all[name];
    if (scenario === undefined) throw new Error(`Unknown scenario '${name}'`);
    await scenario();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
