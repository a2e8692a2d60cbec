import { Agent, request } from 'undici';

/** One interactive request: when it was sent (epoch ms, comparable with the fixture's stats) and its latency. */
export interface ProbeSample {
  sentAt: number;
  ms: number;
}

/** Epoch ms with sub-ms precision, as the fixture upstream stamps its records. */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/**
 * An interactive user of the upstream beside the batches: one small chat request every `everyMs`, straight to
 * the server, whatever became of the last (an open loop, as users are); each answer's latency as the client
 * sees it. Its body carries `fixture.tag: "probe"`, so the fixture's records tell its requests apart.
 */
export function startProbe(upstreamUrl: string, everyMs = 250): { stop(): Promise<ProbeSample[]> } {
  const agent = new Agent({ connections: 64, pipelining: 1 });
  const samples: ProbeSample[] = [];
  const pending = new Set<Promise<void>>();
  const body = JSON.stringify({
    model: 'bench-model',
    messages: [{ role: 'user', content: 'Are you there?' }],
    fixture: { tag: 'probe' },
  });
  const fire = () => {
    const sentAt = epochNow();
    const done = request(`${upstreamUrl}/chat/completions`, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode === 200) samples.push({ sentAt, ms: epochNow() - sentAt });
      })
      .catch(() => undefined)
      .finally(() => pending.delete(done));
    pending.add(done);
  };
  fire();
  const timer = setInterval(fire, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      await agent.close();
      return samples.sort((a, b) => a.sentAt - b.sentAt);
    },
  };
}

/** Nearest-rank percentile (p in 0–100) of a series; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
