/**
 * The Batch object of OpenAI's Batches API and the internal records built around it.
 *
 * Wire objects keep OpenAI's snake_case field names: the workflow's state *is* the Batch object, so the
 * query result, `batch.json` and the HTTP response are the same shape.
 */

/** Every status of OpenAI's Batch object, in the order a batch usually walks through them. */
export const BATCH_STATUSES = [
  'validating',
  'failed',
  'in_progress',
  'finalizing',
  'completed',
  'expired',
  'cancelling',
  'cancelled',
] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** Statuses after which nothing about the batch changes any more. */
export const TERMINAL_STATUSES: readonly BatchStatus[] = ['failed', 'completed', 'expired', 'cancelled'];

/** True once the batch can no longer change. */
export function isTerminalStatus(status: BatchStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/**
 * The endpoints a batch may target: the five OpenAI batches that run on a language model server. (OpenAI's
 * `BatchCreateParams.endpoint` also lists `/v1/images/generations`, `/v1/images/edits` and `/v1/videos`,
 * which no OpenAI-compatible inference server we run on serves.)
 */
export const BATCH_ENDPOINTS = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/v1/responses',
  '/v1/moderations',
] as const;
export type BatchEndpoint = (typeof BATCH_ENDPOINTS)[number];

export interface RequestCounts {
  total: number;
  completed: number;
  failed: number;
}

/** Token usage summed over the successful responses; every field is always present. */
export interface BatchUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** One entry of `errors.data`: a problem found while validating the input file. */
export interface BatchError {
  code: string;
  message: string;
  param: string | null;
  /** 1-based line of the input file, or null when the problem is not tied to a line. */
  line: number | null;
}

export type Metadata = Record<string, string>;

/** OpenAI's Batch object. Timestamps are integer Unix seconds; unset fields are null. */
export interface Batch {
  id: string;
  object: 'batch';
  endpoint: BatchEndpoint;
  model: string | null;
  errors: { object: 'list'; data: BatchError[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number | null;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: RequestCounts;
  usage: BatchUsage;
  metadata: Metadata | null;
}

/**
 * The tenant a batch belongs to, as the scheduler sees it: its name (the owner id) and its share of the
 * upstreams against other tenants.
 */
export interface BatchTenant {
  name: string;
  weight: number;
}

/** What is stored as `batch.json` and answered by the workflow query: the Batch plus who owns it. */
export interface BatchRecord {
  /** The tenant that created the batch; its files and batches are invisible to others. */
  owner: string;
  /** The owner's name and scheduling weight (absent in records from before tenants had weights). */
  tenant?: BatchTenant;
  batch: Batch;
  /** Where the terminal event is POSTed, if the creator asked for it. */
  webhookUrl: string | null;
  /** Lifetime of the output and error files, from `output_expires_after.seconds`. */
  outputExpiresAfterSeconds: number | null;
}

/** Tunables of one batch run, fixed at creation so that they are recorded in the workflow's history. */
export interface BatchExecutionOptions {
  /** Fewest lines in one chunk activity, unless chunkMaxLines is lower (absent in old histories: 1). */
  chunkMinLines?: number;
  /** Most lines in one chunk activity. */
  chunkMaxLines: number;
  /** Most bytes of input in one chunk activity. */
  chunkMaxBytes: number;
  /** Chunk activities in flight at once for this batch. */
  chunkWindow: number;
  /** Most request lines the input file may hold. */
  maxRequests: number;
  /** Longest request line, in bytes (absent in old histories: no limit). */
  maxLineBytes?: number;
  /** Most embedding inputs of an `/v1/embeddings` batch, over all its lines (absent in old histories: no limit). */
  maxEmbeddingInputs?: number;
  /** A chunk whose worker sent no heartbeat for this long is retried elsewhere (absent in old histories: 30). */
  chunkHeartbeatTimeoutSeconds?: number;
  /** Whether the Batch* search attributes are registered, so the workflow may set them (absent: false). */
  searchAttributes?: boolean;
  /**
   * The completion windows' lengths in seconds, shortest first: the deadline classes that order the chunks
   * of all batches (absent in old histories: one class).
   */
  deadlineClasses?: number[];
}

export interface BatchWorkflowInput {
  record: BatchRecord;
  options: BatchExecutionOptions;
}

/** A usage object with every counter at zero. */
export function emptyUsage(): BatchUsage {
  return {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
}

/** Adds `b` into `a` in place and returns `a`. */
export function addUsage(a: BatchUsage, b: BatchUsage): BatchUsage {
  a.input_tokens += b.input_tokens;
  a.input_tokens_details.cached_tokens += b.input_tokens_details.cached_tokens;
  a.output_tokens += b.output_tokens;
  a.output_tokens_details.reasoning_tokens += b.output_tokens_details.reasoning_tokens;
  a.total_tokens += b.total_tokens;
  return a;
}
