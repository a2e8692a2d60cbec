import { Context } from '@temporalio/activity';
import type { BatchEndpoint, BatchError, BatchExecutionOptions, BatchRecord } from '../common/batch';
import type { Catalog } from '../storage';
import type { Logger } from '../telemetry/logger';
import type { ModelCatalog } from '../upstream/models';
import { keys, ObjectNotFoundError } from '../storage';
import { isBlank, readLineBatches } from './jsonl/line-reader';
import type { RawLine } from './jsonl/line-reader';
import type { Manifest } from './batch-parts';
import { writeManifest } from './batch-parts';
import { planChunks } from './chunk-plan';
import { checkRequestLine } from './jsonl/request-line';

/** OpenAI reports at most this many problems of an input file. */
export const MAX_REPORTED_ERRORS = 100;

export interface ValidateInputFileInput {
  record: BatchRecord;
  options: BatchExecutionOptions;
}

export type ValidateInputFileOutput =
  | {
      ok: true;
      total: number;
      chunkCount: number;
      manifestKey: string;
      model: string | null;
      /** Each chunk's first request (0-based), for the chunks' summaries in the Web UI (absent in old histories). */
      chunkFirstLines?: number[];
    }
  | { ok: false; errors: BatchError[] };

/**
 * Builds `validateInputFile`: streams the input file once, checks every line, and writes the chunk
 * manifest. Bad input is a result (`ok: false` with `errors.data` entries), not a failure, so it is never
 * retried; only storage trouble throws.
 */
export function createValidateInputFile({
  catalog,
  models,
  logger,
}: {
  catalog: Catalog;
  models: Pick<ModelCatalog, 'serves'>;
  logger: Logger;
}) {
  return async function validateInputFile(input: ValidateInputFileInput): Promise<ValidateInputFileOutput> {
    const { record, options } = input;
    const { batch } = record;
    // The API writes batch.json right after starting the workflow; if it crashed in between, do it here.
    await catalog.putBatch(record, { ifAbsent: true });

    const file = await catalog.getFile(batch.input_file_id);
    if (file === null || file.owner !== record.owner) {
      return invalid(
        'invalid_request',
        `Cannot find file ${batch.input_file_id}, or you do not have access to it.`,
        'input_file_id',
      );
    }
    if (file.file.purpose !== 'batch') {
      return invalid(
        'invalid_request',
        `File ${batch.input_file_id} has purpose '${file.file.purpose}'; a batch needs a file uploaded with purpose 'batch'.`,
        'input_file_id',
      );
    }

    let stream;
    try {
      stream = await catalog.store.createReadStream(keys.fileContent(batch.input_file_id));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        return invalid('invalid_request', `The content of file ${batch.input_file_id} is missing.`, 'input_file_id');
      }
      throw err;
    }
    const checker = new LineChecker(batch.endpoint, options, Context.current());
    try {
      // Lines come a stream piece at a time: one promise per piece, not per line.
      for await (const lines of readLineBatches(stream, 0, options.maxLineBytes ?? Infinity)) {
        if (!checker.checkAll(lines)) break;
      }
    } finally {
      stream.destroy();
    }
    const { starts, totalBytes, model } = checker;
    const errors = [...checker.errors, ...(await unservedModels(checker.modelLines, models))]
      .sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
      .slice(0, MAX_REPORTED_ERRORS);
    const log = logger.child({ batch_id: batch.id });
    if (errors.length > 0) {
      log.info({ errors: errors.length, first_error: errors[0].code, line: errors[0].line }, 'input file invalid');
      return { ok: false, errors };
    }
    if (starts.length === 0) {
      return invalid(
        'empty_file',
        'The input file is empty. Please ensure that the batch contains at least one request.',
        null,
      );
    }

    const chunks = planChunks(starts, totalBytes, options);
    const manifest: Manifest = { version: 1, inputFileId: batch.input_file_id, total: starts.length, chunks };
    const manifestKey = await writeManifest(catalog.store, batch.id, manifest);
    log.info({ total: starts.length, chunks: chunks.length, bytes: totalBytes }, 'input file validated');
    const chunkFirstLines = chunks.map((c) => c.firstLine);
    return { ok: true, total: starts.length, chunkCount: chunks.length, manifestKey, model, chunkFirstLines };
  };
}

function invalid(code: string, message: string, param: string | null): ValidateInputFileOutput {
  return { ok: false, errors: [{ code, message, param, line: null }] };
}

/** Checks an input file's lines one by one, and keeps what validation reports and what chunking needs. */
class LineChecker {
  readonly errors: BatchError[] = [];
  /** Byte offset of each request line (blank lines are not requests). */
  readonly starts: number[] = [];
  totalBytes = 0;
  /** The model of the first valid request line (for a moderations line without one, its default model). */
  model: string | null = null;
  /** The lines that name each model (at most as many as are reported), to check against the upstreams. */
  readonly modelLines = new Map<string, number[]>();
  private readonly seen = new Set<string>();
  private lineNo = 0;
  /** Embedding inputs of the valid lines so far. */
  private embeddingInputs = 0;

  constructor(
    private readonly endpoint: BatchEndpoint,
    private readonly options: BatchExecutionOptions,
    private readonly ctx: Context,
  ) {}

  /** Checks a piece of lines; false once validation should stop (too many problems, or lines). */
  checkAll(lines: RawLine[]): boolean {
    for (const raw of lines) if (!this.check(raw)) return false;
    return true;
  }

  private check(raw: RawLine): boolean {
    const { errors, options } = this;
    this.lineNo++;
    this.totalBytes = raw.end;
    if (this.lineNo % 5000 === 0) this.ctx.heartbeat({ line: this.lineNo });
    if (raw.tooLong === true) {
      this.starts.push(raw.start);
      const limit = options.maxLineBytes ?? Infinity;
      this.report('line_too_long', `This line is longer than ${limit} bytes, the most a request line may hold.`);
      return errors.length < MAX_REPORTED_ERRORS;
    }
    if (isBlank(raw.bytes)) return true;
    if (this.starts.length >= options.maxRequests) {
      const max = options.maxRequests;
      this.report('too_many_tasks', `The input file has more than ${max} requests; a batch may hold at most ${max}.`);
      return false;
    }
    this.starts.push(raw.start);
    const checked = checkRequestLine(raw.bytes.toString('utf8'), this.endpoint);
    if (!checked.ok) {
      errors.push({ ...checked.error, line: this.lineNo });
    } else if (this.seen.has(checked.line.custom_id)) {
      const id = checked.line.custom_id;
      this.report(
        'duplicate_custom_id',
        `The custom_id '${id}' is a duplicate of the custom_id of an earlier request.`,
        'custom_id',
      );
    } else {
      this.seen.add(checked.line.custom_id);
      this.countInputs(checked.inputs);
      // The first valid line's model is the batch's; a moderations line may name none (its default model).
      this.model ??= checked.model;
      // Only a model a line names is checked against the upstreams: an implied one is the upstream's own.
      if (checked.modelNamed) {
        const lines = this.modelLines.get(checked.model) ?? [];
        if (lines.length < MAX_REPORTED_ERRORS) lines.push(this.lineNo);
        this.modelLines.set(checked.model, lines);
      }
    }
    return errors.length < MAX_REPORTED_ERRORS;
  }

  /**
   * Adds a line's embedding inputs to the batch's, and reports the line that takes them past
   * `maxEmbeddingInputs` (OpenAI: "/v1/embeddings batches are also restricted to a maximum of 50,000
   * embedding inputs across all requests in the batch", `BatchCreateParams.endpoint`). The code is ours:
   * OpenAI documents none.
   */
  private countInputs(inputs: number): void {
    const max = this.options.maxEmbeddingInputs ?? Infinity;
    const before = this.embeddingInputs;
    this.embeddingInputs += inputs;
    if (before <= max && this.embeddingInputs > max) {
      this.report(
        'too_many_inputs',
        `This line takes the batch past ${max} embedding inputs (${this.embeddingInputs} so far); an embeddings batch may hold at most ${max} inputs in all.`,
        'body.input',
      );
    }
  }

  private report(code: string, message: string, param: string | null = null): void {
    this.errors.push({ code, message, param, line: this.lineNo });
  }
}

/**
 * A `model_not_found` error for every line whose model no upstream serves, as OpenAI reports it; a model
 * whose upstream has no readable model list is never refused.
 */
async function unservedModels(
  modelLines: Map<string, number[]>,
  models: Pick<ModelCatalog, 'serves'>,
): Promise<BatchError[]> {
  const errors: BatchError[] = [];
  for (const [model, lines] of modelLines) {
    if ((await models.serves(model)) !== 'not_served') continue;
    for (const line of lines) {
      errors.push({
        code: 'model_not_found',
        message: `The provided model '${model}' is not supported by the Batch API.`,
        param: 'body.model',
        line,
      });
    }
  }
  return errors;
}
