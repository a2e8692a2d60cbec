import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { UpstreamRoute } from './variables';
import type { Env } from './variables';

/**
 * Where the requests go: the default upstream (`UPSTREAM_*`) and the routes by model (`MODEL_ROUTES`).
 * Parsed once with the rest of the environment.
 */

export interface UpstreamTarget {
  baseUrl: string;
  apiKey: string | null;
  /** The ceiling of the adaptive concurrency limit. */
  maxConcurrency: number;
  /**
   * `chat`: the upstream lacks `/v1/responses`; its lines go to `/chat/completions`, translated both ways
   * (absent: `native`).
   */
  responses?: 'native' | 'chat';
  /** Its floor (default 1). */
  minConcurrency?: number;
  /** A Prometheus endpoint that counts the server's waiting requests (default none). */
  metricsUrl?: string | null;
}

/** The upstream part of the configuration: the default upstream, the routes, and what applies to every request. */
export function upstreamConfig(e: Env, routes: Record<string, UpstreamTarget>) {
  const defaultUpstream: UpstreamTarget | null = e.UPSTREAM_BASE_URL
    ? {
        baseUrl: e.UPSTREAM_BASE_URL.replace(/\/+$/, ''),
        apiKey: e.UPSTREAM_API_KEY ?? null,
        maxConcurrency: e.UPSTREAM_MAX_CONCURRENCY,
        responses: e.UPSTREAM_RESPONSES_VIA_CHAT ? 'chat' : 'native',
        minConcurrency: e.UPSTREAM_MIN_CONCURRENCY,
        metricsUrl: e.UPSTREAM_METRICS_URL ?? null,
      }
    : null;
  return {
    default: defaultUpstream,
    routes: routes as Readonly<Record<string, UpstreamTarget>>,
    timeoutMs: e.UPSTREAM_TIMEOUT_SECONDS * 1000,
    maxResponseBytes: e.UPSTREAM_MAX_RESPONSE_BYTES,
    maxAttempts: e.UPSTREAM_MAX_ATTEMPTS,
  };
}

/**
 * `MODEL_ROUTES` (JSON, or the path of a JSON file) → the upstream of each model; a route without its own
 * concurrency limits takes the default upstream's. Each problem is added to `problems`.
 */
export function parseModelRoutes(
  raw: string | undefined,
  defaults: { min: number; max: number },
  problems: string[],
): Record<string, UpstreamTarget> {
  if (raw === undefined) return {};
  let text = raw;
  if (!raw.trimStart().startsWith('{')) {
    try {
      text = readFileSync(raw, 'utf8');
    } catch (err) {
      problems.push(`MODEL_ROUTES: cannot read file '${raw}': ${(err as Error).message}`);
      return {};
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push('MODEL_ROUTES: not valid JSON');
    return {};
  }
  const result = z.record(z.string().min(1), UpstreamRoute).safeParse(json);
  if (!result.success) {
    for (const i of result.error.issues) problems.push(`MODEL_ROUTES.${i.path.join('.')}: ${i.message}`);
    return {};
  }
  return Object.fromEntries(
    Object.entries(result.data).map(([model, r]) => {
      const maxConcurrency = r.maxConcurrency ?? defaults.max;
      if (r.minConcurrency !== undefined && r.minConcurrency > maxConcurrency) {
        problems.push(
          `MODEL_ROUTES.${model}.minConcurrency: ${r.minConcurrency} is above its maxConcurrency (${maxConcurrency})`,
        );
      }
      const target: UpstreamTarget = {
        baseUrl: r.baseUrl.replace(/\/+$/, ''),
        apiKey: r.apiKey ?? null,
        maxConcurrency,
        // An inherited floor gives way to a route's lower ceiling.
        minConcurrency: r.minConcurrency ?? Math.min(defaults.min, maxConcurrency),
        metricsUrl: r.metricsUrl ?? null,
        responses: r.responses ?? 'native',
      };
      return [model, target];
    }),
  );
}
