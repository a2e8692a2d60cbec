/**
 * Pins the e-mail about a batch that ended: the id and status in the subject; counts, files, metadata, the
 * first errors of a failed batch and the dashboard link in both the plain text and the HTML (escaped).
 */
import type { Batch } from '../../../common/batch';
import { batchEndMessage, ERRORS_LISTED } from '../../../notifications';
import { newBatchRecord } from '../../helpers/batch-record';

function ended(patch: Partial<Batch>): Batch {
  const { batch } = newBatchRecord({ inputFileId: 'file-in' });
  return { ...batch, created_at: 1_800_000_000, ...patch };
}

describe('batchEndMessage', () => {
  it('says what a completed batch did, with a link to it', () => {
    const batch = ended({
      status: 'completed',
      completed_at: 1_800_000_600,
      model: 'm',
      request_counts: { total: 1200, completed: 1198, failed: 2 },
      output_file_id: 'file-out',
      error_file_id: 'file-err',
      metadata: { project: '<alpha>' },
    });
    const m = batchEndMessage(batch, 'https://batches.example.org');
    expect(m.subject).toBe(`Batch ${batch.id} completed: 1,198 of 1,200 requests succeeded`);
    for (const part of [
      'Requests: 1,200 total, 1,198 completed, 2 failed',
      'Output file: file-out',
      'Error file: file-err',
      'Ended: 2027-01-15T08:10:00Z',
      'metadata.project: <alpha>',
      `Open it in the dashboard: https://batches.example.org/#/batches/${batch.id}`,
    ]) {
      expect(m.text).toContain(part);
    }
    expect(m.html).toContain('&#60;alpha&#62;');
    expect(m.html).not.toContain('<alpha>');
    expect(m.html).toContain(`href="https://batches.example.org/#/batches/${batch.id}"`);
  });

  it('lists the first errors of a failed batch, and no link without a dashboard', () => {
    const data = Array.from({ length: 12 }, (_, i) => ({
      code: 'invalid_json_line',
      message: `bad line ${i + 1}`,
      param: null,
      line: i + 1,
    }));
    const m = batchEndMessage(
      ended({ status: 'failed', failed_at: 1_800_000_010, errors: { object: 'list', data } }),
      null,
    );
    expect(m.subject).toMatch(/ failed: 0 of 0 requests succeeded$/);
    expect(m.text).toContain(`Errors (the first ${ERRORS_LISTED} of 12):`);
    expect(m.text).toContain('  line 1: invalid_json_line: bad line 1');
    expect(m.text).not.toContain('bad line 11');
    expect(m.text).not.toContain('dashboard');
  });
});
