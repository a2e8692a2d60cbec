import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { freePort } from '../../test/helpers/ports';

/** The repository's root: the processes run there, and `dist/` is below it. */
export const ROOT = path.resolve(__dirname, '..', '..');

/** A process the bench started. */
export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Peak resident memory of the process so far (VmHWM), in MiB. */
  peakRssMiB: () => Promise<number>;
  stop: () => Promise<void>;
}

/**
 * Runs `node <args>` in the root with only `env` (plus PATH and HOME); resolves once its output matches
 * `ready`, rejects if it exits first.
 */
export function startProcess(args: string[], env: Record<string, string>, ready: RegExp): Promise<Proc> {
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

/** The fixture upstream (an echo model) as a process of its own; `args` are its flags (`--slots 24 …`). */
export async function startUpstream(args: string[] = []): Promise<{ upstream: Proc; upstreamUrl: string }> {
  const port = await freePort();
  const upstream = await startProcess(
    ['--import', 'tsx', 'test/helpers/fixture-upstream-cli.ts', ...args],
    { FIXTURE_PORT: String(port) },
    /Fixture upstream/,
  );
  return { upstream, upstreamUrl: `http://127.0.0.1:${port}/v1` };
}

/** Builds `dist/` once, so that the processes do not race to write it. Throws if the build fails. */
export async function build(): Promise<void> {
  const tsc = spawn(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  const [code] = (await once(tsc, 'exit')) as [number];
  if (code !== 0) throw new Error('The build failed');
}
