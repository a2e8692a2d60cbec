import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findTemporalCli } from '../../standalone/temporal-dev-server';

/** Runs the `temporal` CLI, as an operator would, against the server at `address`; resolves to its stdout. */
export async function temporalCli(address: string, ...args: string[]): Promise<string> {
  const cli = findTemporalCli(process.env.TEMPORAL_CLI_PATH ?? null);
  const { stdout } = await promisify(execFile)(cli, [...args, '--address', address]);
  return stdout;
}
