/**
 * Pins the batch webhook event: OpenAI's shape, one id per batch and terminal state (the same on every
 * attempt), `created_at` from the state's timestamp, and no event for a batch that has not ended.
 */
import { batchEvent } from '../../../webhooks/event';
import { batchObject } from '../../helpers/batch-object';

describe('batchEvent', () => {
  it.each(['completed', 'failed', 'expired', 'cancelled'] as const)('makes the batch.%s event', (status) => {
    const batch = batchObject(status);
    const event = batchEvent(batch);
    expect(event).toEqual({
      id: expect.stringMatching(/^evt_[0-9a-f]{32}$/),
      object: 'event',
      type: `batch.${status}`,
      created_at: 1_700_000_100,
      data: batch,
    });
    expect(batchEvent(batchObject(status)).id).toBe(event.id);
  });

  it('gives each batch and state its own id', () => {
    const ids = new Set(
      (['completed', 'failed', 'expired', 'cancelled'] as const).flatMap((status) => [
        batchEvent(batchObject(status)).id,
        batchEvent(batchObject(status, { id: 'batch_01J0000000ZZZZZZZZZZZZZZZZ' })).id,
      ]),
    );
    expect(ids.size).toBe(8);
    // Pinned: receivers drop repeats by this id, also across a deployment.
    expect(batchEvent(batchObject('completed')).id).toBe('evt_5f903212caa0e903aed0036b399a600e');
  });

  it('stamps the event now when the state has no timestamp', () => {
    const before = Math.floor(Date.now() / 1000);
    const event = batchEvent(batchObject('completed', { completed_at: null }));
    expect(event.created_at).toBeGreaterThanOrEqual(before);
    expect(event.created_at).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
  });

  it.each(['validating', 'in_progress', 'finalizing', 'cancelling'] as const)('refuses a %s batch', (status) => {
    expect(() => batchEvent(batchObject(status))).toThrow(
      `Batch batch_01J0000000ABCDEFGHJKMNPQRS is not in a terminal state (${status})`,
    );
  });
});
