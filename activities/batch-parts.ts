/**
 * What the activities of a batch keep in storage between them, and how a broken store is reported: the
 * manifest (how the input is cut, written by validation), each chunk's segments (flushed results and their
 * records, written by the chunks, recovered by a retried chunk, collected by finalize), and the input file's
 * byte ranges they read. Every failure here is classified once: a missing input file and storage that
 * contradicts the batch's own records are permanent, anything else (an I/O error) is retried.
 */
import type { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/activity';
import type { BatchUsage } from '../common/batch';
import { addUsage, emptyUsage } from '../common/batch';
import { FailureType } from '../common/failure-types';
import type { FileStore } from '../storage';
import { keys, ObjectNotFoundError, readJson, writeJson } from '../storage';
import type { ChunkPlan } from './chunk-plan';

/** Written by validation, read by every chunk and by finalize: how the input file is cut. */
export interface Manifest {
  version: 1;
  inputFileId: string;
  total: number;
  chunks: ChunkPlan[];
}

/**
 * The record of one flushed segment of a chunk, written after its `.out.jsonl` and `.err.jsonl`: a segment
 * exists exactly when this record does. It covers request lines [start, end); each is in the output part,
 * the error part, or listed in `skipped` (it never ran: the batch stopped first).
 */
export interface SegmentRecord {
  start: number;
  end: number;
  /** Byte offset in the input file just past the segment's last line (absent in older records). */
  endByte?: number;
  completed: number;
  failed: number;
  usage: BatchUsage;
  skipped: number[];
  hasOutput: boolean;
  hasErrors: boolean;
}

/**
 * A chunk's progress, as it heartbeats it: every line before `nextLine` (bytes before `nextByte`) is in a
 * stored segment, with these totals. Heartbeat details of running histories have this shape: keep it.
 */
export interface ChunkProgress {
  nextLine: number;
  nextByte: number;
  completed: number;
  failed: number;
  usage: BatchUsage;
}

/** Storage contradicts the batch's own records (a bug, or tampering): retrying cannot help. */
export function corruptState(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.CorruptBatchState);
}

/** Opens bytes [start, end) of an input file; a file gone from storage is a permanent failure. */
export async function openInputRange(store: FileStore, fileId: string, start: number, end: number): Promise<Readable> {
  try {
    return await store.createReadStream(keys.fileContent(fileId), { start, end });
  } catch (err) {
    if (err instanceof ObjectNotFoundError) {
      throw ApplicationFailure.nonRetryable(`The input file ${fileId} is gone`, FailureType.InputFileMissing);
    }
    throw err;
  }
}

/** Stores the manifest of a batch; resolves to its key, which the workflow hands to chunks and finalize. */
export async function writeManifest(store: FileStore, batchId: string, manifest: Manifest): Promise<string> {
  const key = keys.batchManifest(batchId);
  await writeJson(store, key, manifest);
  return key;
}

/** Reads a manifest; one that is missing while the batch runs means its storage is corrupt. */
export async function readManifest(store: FileStore, key: string): Promise<Manifest> {
  const manifest = await readJson<Manifest>(store, key);
  if (manifest === null) throw corruptState(`Manifest '${key}' is missing`);
  return manifest;
}

/** Manifests are small and read by every chunk of a batch: keep the recent ones in memory. */
export class ManifestCache {
  private readonly entries = new Map<string, Promise<Manifest>>();

  constructor(
    private readonly store: FileStore,
    private readonly capacity = 64,
  ) {}

  get(key: string): Promise<Manifest> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const loading = readManifest(this.store, key);
    loading.catch(() => this.entries.delete(key));
    this.entries.set(key, loading);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return loading;
  }
}

/** Stores a segment: its output and error lines, then its record (a segment exists when its record does). */
export async function writeSegment(
  store: FileStore,
  batchId: string,
  chunkIndex: number,
  record: SegmentRecord,
  output: string[],
  errors: string[],
): Promise<void> {
  const key = (suffix: 'out.jsonl' | 'err.jsonl' | 'seg.json') =>
    keys.segment(batchId, chunkIndex, record.start, suffix);
  await Promise.all([
    output.length > 0 ? store.write(key('out.jsonl'), output.join('\n') + '\n') : null,
    errors.length > 0 ? store.write(key('err.jsonl'), errors.join('\n') + '\n') : null,
  ]);
  await writeJson(store, key('seg.json'), record);
}

/** `progress` moved past a stored segment. */
export function afterSegment(progress: ChunkProgress, record: SegmentRecord, endByte: number): ChunkProgress {
  return {
    nextLine: record.end,
    nextByte: endByte,
    completed: progress.completed + record.completed,
    failed: progress.failed + record.failed,
    usage: addUsage(addUsage(emptyUsage(), progress.usage), record.usage),
  };
}

/**
 * Where a chunk attempt starts: after `from` (the last heartbeat Temporal recorded), and after every segment
 * a previous attempt flushed that follows on from it, so that only what was not stored is sent again.
 * Segments that do not follow on, that hold lines never run, or whose record predates `endByte` are deleted
 * (record first) and redone.
 */
export async function recoverSegments(
  store: FileStore,
  batchId: string,
  chunkIndex: number,
  from: ChunkProgress,
): Promise<ChunkProgress> {
  const prefix = keys.chunkParts(batchId, chunkIndex);
  const startOf = (key: string) => Number(key.slice(prefix.length).split('.')[0]);
  const later = (await store.list(prefix)).filter((key) => {
    const start = startOf(key);
    return Number.isInteger(start) && start >= from.nextLine;
  });
  const records = later.filter((key) => key.endsWith('.seg.json')).sort((a, b) => startOf(a) - startOf(b));
  let next = from;
  for (const key of records) {
    if (startOf(key) !== next.nextLine) break;
    const record = await readJson<SegmentRecord>(store, key);
    if (record === null || record.endByte === undefined || record.skipped.length > 0) break;
    next = afterSegment(next, record, record.endByte);
  }
  const stale = later.filter((key) => startOf(key) >= next.nextLine);
  const order = (key: string) => (key.endsWith('.seg.json') ? 0 : 1);
  for (const key of stale.sort((a, b) => order(a) - order(b))) await store.delete(key);
  return next;
}

/** What finalize finds of one chunk: its segments in order, and the keys of their parts. */
export interface StoredChunk {
  segments: SegmentRecord[];
  outputKeys: string[];
  errorKeys: string[];
  /** Lines of the chunk in no segment, or listed as skipped: they never ran. */
  notRun: Set<number>;
}

/** Reads a chunk's segments and checks that they tile its lines from its first; a gap is corrupt state. */
export async function storedChunk(store: FileStore, batchId: string, chunk: ChunkPlan): Promise<StoredChunk> {
  const prefix = keys.chunkParts(batchId, chunk.index);
  const segmentKeys = (await store.list(prefix)).filter((k) => k.endsWith('.seg.json'));
  const segments = (await Promise.all(segmentKeys.map((k) => readJson<SegmentRecord>(store, k)))).filter(
    (s): s is SegmentRecord => s !== null,
  );
  segments.sort((a, b) => a.start - b.start);
  const found: StoredChunk = { segments, outputKeys: [], errorKeys: [], notRun: new Set() };
  let pos = chunk.firstLine;
  for (const s of segments) {
    if (s.start !== pos) {
      throw corruptState(`${batchId} chunk ${chunk.index}: segment starts at line ${s.start}, expected ${pos}`);
    }
    for (const line of s.skipped) found.notRun.add(line);
    if (s.hasOutput) found.outputKeys.push(keys.segment(batchId, chunk.index, s.start, 'out.jsonl'));
    if (s.hasErrors) found.errorKeys.push(keys.segment(batchId, chunk.index, s.start, 'err.jsonl'));
    pos = s.end;
  }
  for (let line = pos; line < chunk.firstLine + chunk.count; line++) found.notRun.add(line);
  return found;
}

/** Removes everything the chunks of a batch stored, and its manifest: once the batch is final. */
export async function removeParts(store: FileStore, batchId: string): Promise<void> {
  await store.deletePrefix(keys.batchParts(batchId));
  await store.delete(keys.batchManifest(batchId));
}
