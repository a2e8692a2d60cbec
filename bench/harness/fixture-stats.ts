import { request } from 'undici';
import type { FixtureDepthSample, FixtureRequestRecord, FixtureStats } from '../../test/helpers/fixture-upstream';
import { percentile } from './probe';

/** The fixture upstream's stats with every request and depth sample (`GET /fixture/stats?detail=true`). */
export type FixtureDetail = FixtureStats & { requests: FixtureRequestRecord[]; depthSamples: FixtureDepthSample[] };

const origin = (upstreamUrl: string) => new URL(upstreamUrl).origin;

export async function fixtureStats(upstreamUrl: string): Promise<FixtureDetail> {
  const res = await request(`${origin(upstreamUrl)}/fixture/stats?detail=true`);
  return (await res.body.json()) as FixtureDetail;
}

/** Forgets the fixture's records and samples, between phases. */
export async function resetFixtureStats(upstreamUrl: string): Promise<void> {
  const res = await request(`${origin(upstreamUrl)}/fixture/stats/reset`, { method: 'POST' });
  await res.body.dump();
}

/** What the server did while a batch's requests were at it: from its first arrival to its last answer. */
export interface ServerSpan {
  first: number;
  last: number;
  /** Requests the server finished in the span (any sender: the probe's too), and the batch's alone. */
  finished: number;
  finishedOfBatch: number;
  /** finished ÷ (span × N/T), and the same for the batch's requests alone. */
  utilisation: number;
  utilisationOfBatch: number;
  /** Serving + queued, sampled every 20 ms in the span: median and p95. */
  depthP50: number;
  depthP95: number;
  /** From the first arrival to the first sample with every slot serving (null: never). */
  fullAfterMs: number | null;
}

/** The span of the untagged requests (a batch's; the probe tags its own) and what the server did in it. */
export function serverSpan(detail: FixtureDetail, slots: number, serviceMs: number): ServerSpan {
  const batch = detail.requests.filter((r) => r.tag === null);
  const first = Math.min(...batch.map((r) => r.arrivedAt));
  const last = Math.max(...batch.filter((r) => r.outcome === 'served').map((r) => r.endedAt!));
  const inSpan = (r: FixtureRequestRecord) => r.outcome === 'served' && r.endedAt! >= first && r.endedAt! <= last;
  const finished = detail.requests.filter(inSpan).length;
  const finishedOfBatch = batch.filter(inSpan).length;
  const capacity = ((last - first) / serviceMs) * slots;
  const samples = detail.depthSamples.filter((s) => s.at >= first && s.at <= last);
  const depth = samples.map((s) => s.serving + s.queued);
  const full = samples.find((s) => s.serving >= slots);
  return {
    first,
    last,
    finished,
    finishedOfBatch,
    utilisation: finished / capacity,
    utilisationOfBatch: finishedOfBatch / capacity,
    depthP50: percentile(depth, 50),
    depthP95: percentile(depth, 95),
    fullAfterMs: full === undefined ? null : full.at - first,
  };
}
