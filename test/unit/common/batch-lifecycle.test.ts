/** Pins the batch lifecycle rules every layer decides through: new batch, timestamps, cancel refusal, outcome. */
import { BATCH_STATUSES } from '../../../common/batch';
import {
  cancelRefusal,
  decideOutcome,
  endedAt,
  enterStatus,
  isOutcome,
  newBatch,
} from '../../../common/batch-lifecycle';

const params = {
  id: 'batch_x',
  endpoint: '/v1/chat/completions' as const,
  inputFileId: 'file-x',
  completionWindow: '24h',
  createdAt: 1000,
  windowSeconds: 86_400,
  metadata: { k: 'v' },
};

describe('newBatch', () => {
  it('is validating, with every field present and expires_at at the end of the window', () => {
    const batch = newBatch(params);
    expect(batch).toMatchObject({
      id: 'batch_x',
      object: 'batch',
      status: 'validating',
      created_at: 1000,
      expires_at: 87_400,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: { k: 'v' },
      model: null,
      errors: null,
    });
    for (const field of ['in_progress_at', 'finalizing_at', 'completed_at', 'failed_at', 'cancelled_at'] as const) {
      expect(batch[field]).toBeNull();
    }
  });
});

describe('enterStatus', () => {
  it('stamps the timestamp of each status once', () => {
    const batch = newBatch(params);
    enterStatus(batch, 'in_progress', 1010);
    enterStatus(batch, 'cancelling', 1020);
    enterStatus(batch, 'cancelling', 1030);
    enterStatus(batch, 'cancelled', 1040);
    expect(batch).toMatchObject({ status: 'cancelled', in_progress_at: 1010, cancelling_at: 1020, cancelled_at: 1040 });
    expect(endedAt(batch)).toBe(1040);
  });

  it('has an end only for the four terminal statuses', () => {
    expect(BATCH_STATUSES.filter(isOutcome)).toEqual(['failed', 'completed', 'expired', 'cancelled']);
    const batch = newBatch(params);
    expect(endedAt(batch)).toBeNull();
    enterStatus(batch, 'finalizing', 5);
    expect(endedAt(batch)).toBeNull();
  });
});

describe('cancelRefusal', () => {
  it('refuses a batch that finalizes or ended otherwise than cancelled, and accepts the rest', () => {
    const refused = BATCH_STATUSES.filter((s) => cancelRefusal(s) !== null);
    expect(refused.sort()).toEqual(['completed', 'expired', 'failed', 'finalizing']);
    expect(cancelRefusal('completed')).toBe("Cannot cancel a batch with status 'completed'.");
  });
});

describe('decideOutcome', () => {
  const none = { failed: false, cancelRequested: false, settledInTime: true, cutShort: false };
  it('ranks failure over cancel over expiry over completion', () => {
    expect(decideOutcome(none)).toBe('completed');
    expect(decideOutcome({ ...none, cutShort: true })).toBe('expired');
    expect(decideOutcome({ ...none, settledInTime: false })).toBe('expired');
    expect(decideOutcome({ ...none, settledInTime: false, cancelRequested: true })).toBe('cancelled');
    expect(decideOutcome({ failed: true, cancelRequested: true, settledInTime: false, cutShort: true })).toBe('failed');
  });
});
