/**
 * Pins the import boundary of STYLE.md B3: the workflows bundle for Temporal's sandbox, which rejects Node
 * built-ins and other non-deterministic modules.
 */
import { bundleWorkflowCode } from '@temporalio/worker';

jest.setTimeout(60_000);

describe('the workflow bundle', () => {
  it('builds from workflows/', async () => {
    const bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../../workflows'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
    });
    expect(bundle.code).toContain('batchWorkflow');
  });

  it('refuses a workflow that imports a Node built-in', async () => {
    await expect(
      bundleWorkflowCode({
        workflowsPath: require.resolve('../../fixtures/workflow-with-fs'),
        logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
      }),
    ).rejects.toThrow(/importing the following disallowed modules:\s*- 'fs'/);
  });
});
