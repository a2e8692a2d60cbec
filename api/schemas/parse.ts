import type { z } from 'zod';

/**
 * Parses request input, throwing the `ZodError` (with the offending input recorded) that the error
 * handler words as OpenAI does.
 */
export function parseParams<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value ?? {}, { reportInput: true });
  if (!result.success) throw result.error;
  return result.data;
}
