import { text } from 'node:stream/consumers';
import type { BatchRecord } from '../common/batch';
import type { FileRecord } from '../common/file';
import type { Catalog } from '../storage';
import { keys } from '../storage';

/** What the Temporal Web UI shows of a batch's workflow from its start: a one-line summary and details. */
export interface WorkflowMetadata {
  /** One line, at most 200 bytes: the Web UI's workflow list shows it beside the batch id. */
  staticSummary: string;
  /** Markdown, shown on the workflow's page. */
  staticDetails: string;
}

/** What the API knows of the input file at creation (the rest is validation's to find out). */
export interface InputFacts {
  file: FileRecord['file'] | null;
  /** `body.model` of the first line, when it is readable. */
  model: string | null;
}

/** How much of the input file is read to find the first line's model. */
const PEEK_BYTES = 64 * 1024;

/**
 * The input file's record and its first line's model, best effort: a file that is missing, not the owner's or
 * unreadable gives nothing (validation says what is wrong with it). One small ranged read.
 */
export async function inputFacts(catalog: Catalog, record: BatchRecord): Promise<InputFacts> {
  try {
    const found = await catalog.getFile(record.batch.input_file_id);
    if (found === null || found.owner !== record.owner) return { file: null, model: null };
    const stream = await catalog.store.createReadStream(keys.fileContent(found.file.id), {
      start: 0,
      end: Math.min(found.file.bytes, PEEK_BYTES),
    });
    const head = await text(stream);
    const firstLine = head.split('\n').find((l) => l.trim().length > 0) ?? '';
    const model = (JSON.parse(firstLine) as { body?: { model?: unknown } }).body?.model;
    return { file: found.file, model: typeof model === 'string' ? model : null };
  } catch {
    return { file: null, model: null };
  }
}

/**
 * The Web UI's summary and details of a batch's workflow (user metadata, not history payload): endpoint,
 * model, tenant, window and input file. The request count is validation's to find: the workflow shows it
 * in its current details.
 */
export function workflowMetadata(record: BatchRecord, facts: InputFacts): WorkflowMetadata {
  const { batch } = record;
  const tenant = record.tenant?.name ?? record.owner;
  const file = facts.file !== null ? `${facts.file.filename} (${size(facts.file.bytes)})` : batch.input_file_id;
  const summary = [
    batch.endpoint.replace(/^\/v1\//, ''),
    facts.model ?? 'model ?',
    tenant,
    batch.completion_window,
    file,
  ]
    .join(' · ')
    .slice(0, 200);
  const rows: [string, string][] = [
    ['Batch', batch.id],
    ['Endpoint', batch.endpoint],
    ['Model', facts.model ?? '(from validation)'],
    ['Tenant', `${tenant}${record.tenant !== undefined ? ` (weight ${record.tenant.weight})` : ''}`],
    ['Window', `${batch.completion_window}, deadline ${iso(batch.expires_at)}`],
    ['Input file', `${batch.input_file_id}${facts.file !== null ? `: ${file}` : ''}`],
    ['Created', iso(batch.created_at)],
    ...(batch.metadata !== null
      ? Object.entries(batch.metadata).map(([k, v]): [string, string] => [`metadata.${k}`, v])
      : []),
  ];
  const details = ['| | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`)].join('\n');
  return { staticSummary: summary, staticDetails: details };
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function iso(seconds: number | null): string {
  return seconds === null ? '—' : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/** A table cell: no line breaks, no pipes. */
function cell(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').replace(/\|/g, '\\|');
}
