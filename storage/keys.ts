import { BATCH_ID_PREFIX, FILE_ID_PREFIX, invertUlid, ulidOf } from './ids';

/**
 * The layout of objects in storage. Everything a batch or file owns lives under its id; the `index/`
 * objects are empty markers whose keys sort in listing order, so a page is one ranged list call.
 */
export const keys = {
  fileContent: (fileId: string) => `files/${fileId}/content`,
  fileRecord: (fileId: string) => `files/${fileId}/file.json`,
  batchRecord: (batchId: string) => `batches/${batchId}/batch.json`,
  batchManifest: (batchId: string) => `batches/${batchId}/manifest.json`,
  /** Written once the e-mail about the batch's end was sent, so a retry does not send it again. */
  batchNotified: (batchId: string) => `batches/${batchId}/notified.json`,
  /** Everything the chunk activities of a batch write, deleted once the batch is finalized. */
  batchParts: (batchId: string) => `batches/${batchId}/parts/`,
  chunkParts: (batchId: string, chunk: number) => `batches/${batchId}/parts/${pad(chunk, 6)}/`,
  /**
   * One flushed segment of a chunk attempt: `.seg.json` (its record, written last), `.out.jsonl`, `.err.jsonl`.
   * Attempts write apart, since a retried chunk may start while its timed-out attempt still writes (records
   * written before attempts were named have no attempt part).
   */
  segment: (
    batchId: string,
    chunk: number,
    startLine: number,
    suffix: 'seg.json' | 'out.jsonl' | 'err.jsonl',
    attempt?: number,
  ) =>
    `batches/${batchId}/parts/${pad(chunk, 6)}/${pad(startLine, 9)}.${attempt === undefined ? '' : `a${attempt}.`}${suffix}`,
  /** Error lines finalize writes for the requests of a chunk that never ran. */
  unrunLines: (batchId: string, chunk: number) => `batches/${batchId}/parts/${pad(chunk, 6)}/unrun.err.jsonl`,

  batchIndexPrefix: (owner: string) => `index/batches/${owner}/`,
  fileIndexPrefix: (owner: string, order: 'asc' | 'desc') => `index/files-${order}/${owner}/`,
};

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** The index key of an id (newest first for `desc`), or null when the id is not one we issued. */
export function indexKey(prefix: string, idPrefix: string, id: string, order: 'asc' | 'desc'): string | null {
  const u = ulidOf(id, idPrefix);
  if (u === null) return null;
  return prefix + (order === 'desc' ? invertUlid(u) : u);
}

/** The id an index key points at. */
export function idFromIndexKey(key: string, idPrefix: string, order: 'asc' | 'desc'): string {
  const last = key.slice(key.lastIndexOf('/') + 1);
  return idPrefix + (order === 'desc' ? invertUlid(last) : last);
}

export { BATCH_ID_PREFIX, FILE_ID_PREFIX };
