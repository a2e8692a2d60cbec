import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';

/**
 * The baseline: what a user would write without us. Sends the lines of `inputFile` to the upstream,
 * `concurrency` in flight, and writes the results to `outFile` as JSONL.
 */
export async function plainRun(
  upstreamUrl: string,
  inputFile: string,
  outFile: string,
  concurrency: number,
): Promise<void> {
  const lines = (await readFile(inputFile, 'utf8')).split('\n').filter(Boolean);
  const agent = new Agent({ connections: concurrency, pipelining: 1 });
  const out = createWriteStream(outFile);
  let draining: Promise<void> | null = null;
  let next = 0;
  const loop = async () => {
    while (next < lines.length) {
      const line = JSON.parse(lines[next++]) as { custom_id: string; body: unknown };
      const res = await request(`${upstreamUrl}/chat/completions`, {
        dispatcher: agent,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(line.body),
      });
      const body = await res.body.text();
      const text = `{"custom_id":${JSON.stringify(line.custom_id)},"response":{"status_code":${res.statusCode},"body":${body}}}\n`;
      if (!out.write(text)) {
        draining ??= once(out, 'drain').then(() => {
          draining = null;
        });
        await draining;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  out.end();
  await once(out, 'finish');
  await agent.close();
}
