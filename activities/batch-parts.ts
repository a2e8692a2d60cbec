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
  /** The chunk attempt that wrote it (absent in records written before attempts were named). */
  attempt?: number;
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
    keys.segment(batchId, chunkIndex, record.start, suffix, record.attempt);
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

/** Every segment record a chunk's attempts stored. */
async function chunkRecords(store: FileStore, batchId: string, chunkIndex: number): Promise<SegmentRecord[]> {
  const keysOf = (await store.list(keys.chunkParts(batchId, chunkIndex))).filter((k) => k.endsWith('.seg.json'));
  const records = await Promise.all(keysOf.map((k) => readJson<SegmentRecord>(store, k)));
  return records.filter((r): r is SegmentRecord => r !== null);
}

/**
 * The chain of segments from line `from` (toward `to`) that holds the most lines that ran. Attempts of a
 * chunk may overlap (a retry starts while a timed-out attempt still writes), each writing its own records,
 * so there can be several chains; among equals the latest attempt's wins. Lines past the chain never ran.
 */
function chainOf(records: SegmentRecord[], from: number, to: number): SegmentRecord[] {
  const byStart = new Map<number, SegmentRecord[]>();
  for (const r of records) {
    if (r.end > r.start && r.end <= to) byStart.set(r.start, [...(byStart.get(r.start) ?? []), r]);
  }
  for (const list of byStart.values()) list.sort((a, b) => (b.attempt ?? 0) - (a.attempt ?? 0) || b.end - a.end);
  // The best chain from each position, found once (records only move forward).
  const best = new Map<number, { ran: number; chain: SegmentRecord[] }>();
  const walk = (pos: number): { ran: number; chain: SegmentRecord[] } => {
    let found = best.get(pos);
    if (found !== undefined) return found;
    found = { ran: 0, chain: [] };
    for (const r of byStart.get(pos) ?? []) {
      const rest = walk(r.end);
      const ran = r.end - r.start - r.skipped.length + rest.ran;
      if (ran > found.ran) found = { ran, chain: [r, ...rest.chain] };
    }
    best.set(pos, found);
    return found;
  };
  return walk(from).chain;
}

/**
 * Where a chunk attempt starts: after `from` (the last heartbeat Temporal recorded), and after every segment
 * earlier attempts stored that follows on from it with all its lines run, so that only what was not stored
 * is sent again. Other records are left alone (an older attempt may still be writing them) and ignored.
 */
export async function recoverSegments(
  store: FileStore,
  batchId: string,
  chunkIndex: number,
  from: ChunkProgress,
  chunkEnd: number,
): Promise<ChunkProgress> {
  const usable = (await chunkRecords(store, batchId, chunkIndex)).filter(
    (r) => r.start >= from.nextLine && r.endByte !== undefined && r.skipped.length === 0,
  );
  let next = from;
  for (const record of chainOf(usable, from.nextLine, chunkEnd)) next = afterSegment(next, record, record.endByte!);
  return next;
}

/** What finalize finds of one chunk: the chain of segments it keeps, and the keys of their parts. */
export interface StoredChunk {
  segments: SegmentRecord[];
  outputKeys: string[];
  errorKeys: string[];
  /** Lines of the chunk in no segment, or listed as skipped: they never ran. */
  notRun: Set<number>;
}

/**
 * The segments of a chunk that hold each of its lines once, from its first line; lines past the chain never
 * ran. Segments that exist but none of which starts at the chunk's first line are corrupt state.
 */
export async function storedChunk(store: FileStore, batchId: string, chunk: ChunkPlan): Promise<StoredChunk> {
  const end = chunk.firstLine + chunk.count;
  const records = await chunkRecords(store, batchId, chunk.index);
  const segments = chainOf(records, chunk.firstLine, end);
  if (records.length > 0 && !records.some((r) => r.start === chunk.firstLine)) {
    throw corruptState(
      `${batchId} chunk ${chunk.index}: no stored segment starts at its first line ${chunk.firstLine}`,
    );
  }
  const found: StoredChunk = { segments, outputKeys: [], errorKeys: [], notRun: new Set() };
  const key = (s: SegmentRecord, suffix: 'out.jsonl' | 'err.jsonl') =>
    keys.segment(batchId, chunk.index, s.start, suffix, s.attempt);
  for (const s of segments) {
    for (const line of s.skipped) found.notRun.add(line);
    if (s.hasOutput) found.outputKeys.push(key(s, 'out.jsonl'));
    if (s.hasErrors) found.errorKeys.push(key(s, 'err.jsonl'));
  }
  const reached = segments.length > 0 ? segments[segments.length - 1].end : chunk.firstLine;
  for (let line = reached; line < end; line++) found.notRun.add(line);
  return found;
}

/** Removes everything the chunks of a batch stored, and its manifest: once the batch is final. */
export async function removeParts(store: FileStore, batchId: string): Promise<void> {
  await store.deletePrefix(keys.batchParts(batchId));
  await store.delete(keys.batchManifest(batchId));
}
