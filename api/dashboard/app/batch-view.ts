import type { Batch, BatchStatus } from '../../../common/batch';
import { h } from './dom';
import { count, percent } from './format';

/** Statuses a batch can still leave. */
const ACTIVE: readonly BatchStatus[] = ['validating', 'in_progress', 'finalizing', 'cancelling'];

export function isActive(batch: Batch): boolean {
  return ACTIVE.includes(batch.status);
}

/** OpenAI's status name, as a badge (the name itself is the text, so it is read out as it is). */
export function statusBadge(batch: Batch): HTMLElement {
  return h('span', { class: `status status-${batch.status}` }, batch.status);
}

/** `completed + failed` of `total`, as a `<progress>` and as "n / total". */
export function progressOf(batch: Batch): HTMLElement {
  const { total, completed, failed } = batch.request_counts;
  const done = completed + failed;
  const label = `${count(done)} / ${count(total)}`;
  return h(
    'span',
    { class: 'progress' },
    h('progress', {
      max: Math.max(total, 1),
      value: done,
      'aria-label': `Progress of ${batch.id}: ${label} requests (${percent(done, total)})`,
    }),
    h('span', { class: 'progress-text' }, label),
  );
}
