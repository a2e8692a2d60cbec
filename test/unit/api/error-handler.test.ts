/** Pins how any thrown error becomes OpenAI's envelope, worded as OpenAI words the same mistake. */
import type { z } from 'zod';
import { toApiError } from '../../../api/error-handler';
import { ConflictError, InternalServerError } from '../../../api/errors';
import { BatchCreateParams } from '../../../api/schemas/batch';

function zodError(schema: z.ZodType, value: unknown) {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) throw new Error('expected a failure');
  return toApiError(r.error);
}

const valid = { input_file_id: 'file-1', endpoint: '/v1/chat/completions', completion_window: '24h' };

describe('toApiError', () => {
  it('keeps our own errors as they are', () => {
    const err = new ConflictError("Cannot cancel a batch with status 'completed'.");
    expect(toApiError(err)).toBe(err);
    expect(err.retryable).toBe(false);
  });

  it('words a missing parameter as OpenAI does', () => {
    const e = zodError(BatchCreateParams, { endpoint: '/v1/completions', completion_window: '24h' });
    expect(e).toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      message: "Missing required parameter: 'input_file_id'.",
      param: 'input_file_id',
      code: 'missing_required_parameter',
    });
  });

  it('lists supported values for an invalid enum', () => {
    const e = zodError(BatchCreateParams, { ...valid, endpoint: '/v1/images/generations' });
    expect(e).toMatchObject({
      message:
        "Invalid value: '/v1/images/generations'. Supported values are: '/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses', and '/v1/moderations'.",
      param: 'endpoint',
      code: 'invalid_value',
    });
  });

  it('reports metadata types and lengths with the metadata key as param', () => {
    expect(zodError(BatchCreateParams, { ...valid, metadata: { tags: ['a'] } })).toMatchObject({
      message: "Invalid type for 'metadata.tags': expected a string, but got an array instead.",
      param: 'metadata.tags',
      code: 'invalid_type',
    });
    expect(zodError(BatchCreateParams, { ...valid, metadata: { actual: 'x'.repeat(695) } })).toMatchObject({
      message:
        "Invalid 'metadata.actual': string too long. Expected a string with maximum length 512, but got a string with length 695 instead.",
      param: 'metadata.actual',
      code: 'string_above_max_length',
    });
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    expect(zodError(BatchCreateParams, { ...valid, metadata: many })).toMatchObject({
      param: 'metadata',
      code: 'object_above_max_properties',
    });
  });

  it('maps body-parser failures to 400 and 413', () => {
    expect(toApiError({ type: 'entity.parse.failed', status: 400 })).toMatchObject({ status: 400, param: null });
    expect(toApiError({ type: 'entity.too.large', status: 413 })).toMatchObject({ status: 413 });
  });

  it('hides anything unexpected behind a retryable 500', () => {
    const e = toApiError(new Error('secret internals'));
    expect(e).toBeInstanceOf(InternalServerError);
    expect(e.message).not.toContain('secret');
    expect(e.retryable).toBe(true);
  });
});
