import { z } from 'zod';

/** Query parameters of a cursor page: `after` is the id of the last item of the previous page. */
export const CursorPageParams = z.object({
  after: z.string().min(1).optional(),
});

/** Query strings arrive as text: coerce a limit, keeping OpenAI's wording for bad values. */
export function limitParam(max: number, defaultValue: number) {
  return z.coerce.number().int().min(1).max(max).default(defaultValue);
}

export interface CursorPage<T extends { id: string }> {
  object: 'list';
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** The list envelope both SDKs page through: `data`, `has_more`, and the first and last ids. */
export function toCursorPage<T extends { id: string }>(data: T[], hasMore: boolean): CursorPage<T> {
  return {
    object: 'list',
    data,
    first_id: data.length > 0 ? data[0].id : null,
    last_id: data.length > 0 ? data[data.length - 1].id : null,
    has_more: hasMore,
  };
}
