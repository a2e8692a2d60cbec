import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

/** A workflow's history, as Temporal returns it. */
export type History = temporal.api.history.v1.IHistory;

/** The history of a batch's workflow (its id is the batch id). */
export async function historyOf(address: string, batchId: string): Promise<History> {
  const connection = await Connection.connect({ address });
  try {
    return await new Client({ connection }).workflow.getHandle(batchId).fetchHistory();
  } finally {
    await connection.close();
  }
}

/**
 * When each activity type ran in a history (first scheduled → last closed), in ms from the workflow's start,
 * and when the workflow closed.
 */
export function activitySpans(history: History): Record<string, [number, number]> {
  const at = (e: temporal.api.history.v1.IHistoryEvent) =>
    Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
  const typeOf = new Map<number, string>();
  const spans: Record<string, [number, number]> = {};
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) typeOf.set(Number(e.eventId), scheduled.activityType?.name ?? '?');
    const closed =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    if (!scheduled && !closed) continue;
    const type = typeOf.get(Number(closed?.scheduledEventId ?? e.eventId));
    if (type === undefined) continue;
    const span = (spans[type] ??= [at(e), at(e)]);
    span[0] = Math.min(span[0], at(e));
    span[1] = Math.max(span[1], at(e));
  }
  const events = history.events ?? [];
  const start = events.length > 0 ? at(events[0]) : 0;
  const closed = events.length > 0 ? at(events[events.length - 1]) : 0;
  return Object.fromEntries(
    [...Object.entries(spans), ['workflow closed', [closed, closed]] as const].map(([k, [a, b]]) => [
      k,
      [a - start, b - start],
    ]),
  );
}
