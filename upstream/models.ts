import { request } from 'undici';
import type { UpstreamTarget } from '../config';

/** OpenAI's Model object. */
export interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/** Whether an upstream serves a model: known from its list, or not known (it has no list). */
export type ModelAnswer = 'served' | 'not_served' | 'unknown';

export interface ModelCatalogConfig {
  default: UpstreamTarget | null;
  routes: Readonly<Record<string, UpstreamTarget>>;
}

/** How long a fetched model list is used before it is asked for again. */
const LIST_TTL_MS = 60_000;
/** How long an upstream may take to list its models. */
const LIST_TIMEOUT_MS = 5_000;

/**
 * The models the batch API can run: each upstream's own `GET /v1/models` (vLLM, llama.cpp, Ollama and
 * OpenAI all serve it), cached briefly, plus the names `MODEL_ROUTES` routes. An upstream whose list cannot
 * be had (404, an error, an answer that is not a list) has an unknown list: nothing is refused for it.
 */
export class ModelCatalog {
  private readonly lists = new Map<string, { at: number; list: Promise<ModelObject[] | null> }>();

  constructor(
    private readonly config: ModelCatalogConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every model listed by an upstream or routed by name, each once. */
  async list(): Promise<ModelObject[]> {
    const byId = new Map<string, ModelObject>();
    const targets = [...Object.values(this.config.routes), ...(this.config.default ? [this.config.default] : [])];
    const lists = await Promise.all(targets.map((t) => this.listOf(t)));
    for (const model of lists.flatMap((l) => l ?? [])) if (!byId.has(model.id)) byId.set(model.id, model);
    for (const id of Object.keys(this.config.routes)) {
      if (!byId.has(id)) byId.set(id, { id, object: 'model', created: 0, owned_by: 'system' });
    }
    return [...byId.values()];
  }

  /**
   * Whether a line naming `model` can run: a routed name always can; otherwise the default upstream decides
   * from its list, and without a default upstream nothing serves it.
   */
  async serves(model: string): Promise<ModelAnswer> {
    if (Object.hasOwn(this.config.routes, model)) return 'served';
    if (this.config.default === null) return 'not_served';
    const list = await this.listOf(this.config.default);
    if (list === null) return 'unknown';
    return list.some((m) => m.id === model) ? 'served' : 'not_served';
  }

  private listOf(target: UpstreamTarget): Promise<ModelObject[] | null> {
    const cached = this.lists.get(target.baseUrl);
    if (cached !== undefined && this.now() - cached.at < LIST_TTL_MS) return cached.list;
    const list = fetchModels(target);
    this.lists.set(target.baseUrl, { at: this.now(), list });
    return list;
  }
}

/** An upstream's model list, or null when it has none we can read. */
async function fetchModels(target: UpstreamTarget): Promise<ModelObject[] | null> {
  try {
    const res = await request(`${target.baseUrl}/models`, {
      headers: target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {},
      headersTimeout: LIST_TIMEOUT_MS,
      bodyTimeout: LIST_TIMEOUT_MS,
      signal: AbortSignal.timeout(LIST_TIMEOUT_MS),
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      return null;
    }
    const body = (await res.body.json()) as { data?: unknown };
    if (!Array.isArray(body.data)) return null;
    return body.data
      .filter((m): m is { id: string } => typeof (m as { id?: unknown })?.id === 'string')
      .map((m) => {
        const raw = m as { id: string; created?: unknown; owned_by?: unknown };
        return {
          id: raw.id,
          object: 'model' as const,
          created: typeof raw.created === 'number' ? raw.created : 0,
          owned_by: typeof raw.owned_by === 'string' ? raw.owned_by : 'system',
        };
      });
  } catch {
    return null;
  }
}
