import { z } from 'zod';
import type { Batch, BatchRecord } from '../../common/batch';
import { BATCH_ENDPOINTS } from '../../common/batch';
import { CursorPageParams, limitParam } from './pagination';

/** OpenAI's metadata: at most 16 pairs, keys up to 64 characters, string values up to 512. */
export const Metadata = z.record(z.string().max(64), z.string().max(512)).refine((m) => Object.keys(m).length <= 16, {
  error: (issue) =>
    `Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with ${Object.keys(issue.input as object).length} properties instead.`,
  params: { code: 'object_above_max_properties' },
});

/** `{anchor: 'created_at', seconds}` with seconds between one hour and 30 days. */
export const ExpiresAfter = z.object({
  anchor: z.literal('created_at'),
  seconds: z.number().int().min(3600).max(2_592_000),
});

/** The body of `POST /v1/batches`. Unknown keys are ignored, as a newer SDK may send fields we do not know. */
export const BatchCreateParams = z.object({
  input_file_id: z.string().min(1),
  endpoint: z.enum(BATCH_ENDPOINTS),
  /** One of BATCH_COMPLETION_WINDOWS (checked by the batch service, which knows them). */
  completion_window: z.string(),
  metadata: Metadata.nullish(),
  output_expires_after: ExpiresAfter.nullish(),
  /** Inference.net's extension: where the terminal event is POSTed (HTTPS). */
  webhook_url: z.string().max(2048).nullish(),
});
export type BatchCreateParams = z.infer<typeof BatchCreateParams>;

export const BatchListParams = CursorPageParams.extend({
  limit: limitParam(100, 20),
});
export type BatchListParams = z.infer<typeof BatchListParams>;

/** The Batch object as sent on the wire: the record without who owns it. */
export function toBatchObject(record: BatchRecord): Batch {
  return record.batch;
}
