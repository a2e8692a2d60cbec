import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Small chat requests, as in most batches. */
export function smallLine(i: number): string {
  return JSON.stringify({
    custom_id: `bench-${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'bench-model', messages: [{ role: 'user', content: `Say something about the number ${i}.` }] },
  });
}

/** ~4 KB chat requests: 50,000 of them make the ~200 MB file of OpenAI's limit. */
export function bigLine(i: number): string {
  const filler = 'lorem ipsum dolor sit amet '.repeat(150).slice(0, 4000);
  return JSON.stringify({
    custom_id: `big-${i}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'bench-model', messages: [{ role: 'user', content: `${i} ${filler}` }] },
  });
}

/** Writes a JSONL file line by line (never whole in memory) and returns its path and size. */
export async function writeInput(
  dir: string,
  name: string,
  count: number,
  line: (i: number) => string,
): Promise<{ file: string; bytes: number }> {
  const file = path.join(dir, name);
  await pipeline(
    Readable.from(
      (function* () {
        for (let i = 0; i < count; i++) yield `${line(i)}\n`;
      })(),
    ),
    createWriteStream(file),
  );
  return { file, bytes: (await stat(file)).size };
}
