/**
 * Runs the pytest suite of test/contract/python with the official Python `openai` client against the real
 * API and worker: the contract holds for both SDKs.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ensurePythonVenv } from '../helpers/python-venv';
import { startTestStack } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(300_000);

describe('the Python openai client', () => {
  let stack: TestStack;
  let python: string;
  beforeAll(async () => {
    python = ensurePythonVenv();
    stack = await startTestStack({ env: { BATCH_MAX_EMBEDDING_INPUTS: '10' } });
  });
  afterAll(() => stack.stop());

  it('passes the Python contract suite', async () => {
    // Asynchronously: the API and worker under test run in this process and must keep answering.
    const child = spawn(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', path.join(__dirname, 'python')], {
      env: {
        PATH: process.env.PATH ?? '',
        BATCH_API_BASE_URL: `${stack.api.url}/v1`,
        BATCH_MAX_EMBEDDING_INPUTS: '10',
      },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (status !== 0) console.error(output);
    expect(status).toBe(0);
    expect(output).toMatch(/\d+ passed/);
    expect(output).not.toMatch(/skipped|xfail/);
  });
});
