/**
 * Pins determinism across code changes: histories recorded from real batches (test/fixtures/histories,
 * exported with `temporal workflow show --output json`) must replay against today's workflow code. A
 * change that breaks this needs `patched()` or a new workflow type, or running batches would fail.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { quietTemporalRuntime } from '../../helpers/runtime';

jest.setTimeout(120_000);

const dir = path.join(__dirname, '..', '..', 'fixtures', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('recorded batch histories', () => {
  let codePath: { code: string };
  beforeAll(async () => {
    quietTemporalRuntime();
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../../workflows'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
    });
    codePath = { code: bundle.code };
  });

  it('exist for the main outcomes', () => {
    expect(files.map((f) => f.split('-')[0]).sort()).toEqual(
      expect.arrayContaining(['cancelled', 'completed', 'expired', 'failed']),
    );
  });

  it.each(files)('%s replays without nondeterminism', async (file) => {
    const history: unknown = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: codePath }, history, file.replace(/\.json$/, ''));
  });
});
