import { createReadStream } from 'node:fs';
import * as path from 'node:path';
import { toFile } from 'openai';
import type OpenAI from 'openai';

const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];

/** How a batch ended and how long it took, from `batches.create`. */
export interface BatchRun {
  batch: OpenAI.Batches.Batch;
  totalMs: number;
  /** Until the first poll that saw it past `validating`. */
  inProgressMs: number;
}

/** Called on every poll with the batch and the ms since create. */
export type OnPoll = (b: OpenAI.Batches.Batch, ms: number) => void;

/** Uploads a JSONL file for a batch. */
export async function uploadFile(client: OpenAI, file: string): Promise<OpenAI.Files.FileObject> {
  return client.files.create({ file: await toFile(createReadStream(file), path.basename(file)), purpose: 'batch' });
}

/** Creates a chat batch and polls it every `pollMs` to the end; times to in_progress and to the end. */
export async function runBatch(client: OpenAI, fileId: string, pollMs: number, onPoll?: OnPoll): Promise<BatchRun> {
  const started = performance.now();
  const created = await client.batches.create({
    input_file_id: fileId,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  let batch = created;
  let inProgressMs: number | null = null;
  while (!TERMINAL.includes(batch.status)) {
    await new Promise((r) => setTimeout(r, pollMs));
    batch = await client.batches.retrieve(created.id);
    const ms = performance.now() - started;
    if (inProgressMs === null && batch.status !== 'validating') inProgressMs = ms;
    onPoll?.(batch, ms);
  }
  return { batch, totalMs: performance.now() - started, inProgressMs: inProgressMs ?? performance.now() - started };
}
