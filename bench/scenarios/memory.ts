import OpenAI from 'openai';
import { streamOversizedUpload } from '../../test/helpers/oversized-upload';
import type { Scenario } from '../scenario';
import { uploadFile } from '../harness/batches';
import { bigLine, writeInput } from '../harness/inputs';
import { mb, seconds } from '../harness/report';

export const memory: Scenario = {
  name: 'memory',
  description:
    'A 50,000-line, ~200 MB file: upload, validation speed, the batch, the download, a 400 MB upload over the ' +
    'limit; peak RSS of the API and of the worker (VmHWM).',
  async run(ctx) {
    const stack = await ctx.startStack(1);
    try {
      const input = await writeInput(stack.dataDir, 'big.jsonl', 50_000, bigLine);
      const client = new OpenAI({ baseURL: stack.apiUrl, apiKey: 'bench', maxRetries: 0, timeout: 600_000 });
      const uploadStarted = performance.now();
      const file = await uploadFile(client, input.file);
      const uploadMs = performance.now() - uploadStarted;
      const apiAfterUpload = await stack.api.peakRssMiB();
      const { batch, totalMs, inProgressMs } = await ctx.runBatch(client, file.id);
      if (batch.status !== 'completed') throw new Error(`The batch ended ${batch.status}`);
      const downloadStarted = performance.now();
      const res = await client.files.content(batch.output_file_id!);
      let downloaded = 0;
      for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) downloaded += part.length;
      const downloadMs = performance.now() - downloadStarted;
      const apiAfterDownload = await stack.api.peakRssMiB();
      const refused = await streamOversizedUpload(`${stack.apiUrl}/files`, 400 * 1024 * 1024, 'bench');
      ctx.report(`memory: 50,000 requests in ${mb(input.bytes)}`, [
        ['upload', `${seconds(uploadMs)} (${mb(input.bytes / (uploadMs / 1000))}/s)`],
        ['API peak RSS after upload', `${apiAfterUpload} MiB (target < 300)`],
        [
          'create → in_progress (validation)',
          `${seconds(inProgressMs)} (${mb(input.bytes / (inProgressMs / 1000))}/s)`,
        ],
        ['create → completed', seconds(totalMs)],
        ['worker peak RSS', `${await stack.workers[0].peakRssMiB()} MiB (target < 400)`],
        ['download of the output file', `${mb(downloaded)} in ${seconds(downloadMs)}`],
        ['API peak RSS after download', `${apiAfterDownload} MiB`],
        [
          'a 400 MB upload over the 200 MB limit',
          `${refused.status} after ${mb(refused.sentBytes)} sent; API peak RSS then ${await stack.api.peakRssMiB()} MiB`,
        ],
      ]);
    } finally {
      await stack.stop();
    }
  },
};
