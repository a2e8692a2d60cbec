import { Context } from '@temporalio/activity';
import type { BatchError, BatchExecutionOptions, BatchRecord } from '../common/batch';
import type { Catalog } from '../storage';
import type { Logger } from '../telemetry/logger';
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
  | { ok: true; total: number; chunkCount: number; manifestKey: string; model: string | null }
  | { ok: false; errors: BatchError[] };

/**
 * Builds `validateInputFile`: streams the input file once, checks every line, and writes the chunk
 * manifest. Bad input is a result (`ok: false` with `errors.data` entries), not a failure, so it is never
 * retried; only storage trouble throws.
 */
export function createValidateInputFile({ catalog, logger }: { catalog: Catalog; logger: Logger }) {
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

    const ctx = Context.current();
    const errors: BatchError[] = [];
    const seen = new Set<string>();
    const starts: number[] = [];
    let model: string | null = null;
    let lineNo = 0;
    let totalBytes = 0;
    let stream;
    try {
      stream = await catalog.store.createReadStream(keys.fileContent(batch.input_file_id));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) {
        return invalid('invalid_request', `The content of file ${batch.input_file_id} is missing.`, 'input_file_id');
      }
      throw err;
    }
    try {
      const maxLineBytes = options.maxLineBytes ?? Infinity;
      /** Checks one line; true when validation should stop here. */
      const check = (raw: RawLine): boolean => {
        lineNo++;
        totalBytes = raw.end;
        if (lineNo % 5000 === 0) ctx.heartbeat({ line: lineNo });
        if (raw.tooLong === true) {
          starts.push(raw.start);
          errors.push({
            code: 'line_too_long',
            message: `This line is longer than ${maxLineBytes} bytes, the most a request line may hold.`,
            param: null,
            line: lineNo,
          });
          return errors.length >= MAX_REPORTED_ERRORS;
        }
        if (isBlank(raw.bytes)) return false;
        if (starts.length >= options.maxRequests) {
          errors.push({
            code: 'too_many_tasks',
            message: `The input file has more than ${options.maxRequests} requests; a batch may hold at most ${options.maxRequests}.`,
            param: null,
            line: lineNo,
          });
          return true;
        }
        starts.push(raw.start);
        const checked = checkRequestLine(raw.bytes.toString('utf8'), batch.endpoint);
        if (!checked.ok) {
          errors.push({ ...checked.error, line: lineNo });
        } else if (seen.has(checked.line.custom_id)) {
          errors.push({
            code: 'duplicate_custom_id',
            message: `The custom_id '${checked.line.custom_id}' is a duplicate of the custom_id of an earlier request.`,
            param: 'custom_id',
            line: lineNo,
          });
        } else {
          seen.add(checked.line.custom_id);
          model ??= checked.line.body.model;
        }
        return errors.length >= MAX_REPORTED_ERRORS;
      };
      // Lines come a stream piece at a time: one promise per piece, not per line.
      let stop = false;
      for await (const lines of readLineBatches(stream, 0, maxLineBytes)) {
        for (const raw of lines) if ((stop = check(raw))) break;
        if (stop) break;
      }
    } finally {
      stream.destroy();
    }
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
    return { ok: true, total: starts.length, chunkCount: chunks.length, manifestKey, model };
  };
}

function invalid(code: string, message: string, param: string | null): ValidateInputFileOutput {
  return { ok: false, errors: [{ code, message, param, line: null }] };
}
