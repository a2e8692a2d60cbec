/**
 * Pins when a chunk attempt reports its counts to the workflow (each report is a history event): first
 * 15 s after it starts, then with gaps that double up to a cap, and only when the counts changed.
 */
import { FIRST_REPORT_MS, ReportSchedule } from '../../../activities/progress-reports';

const S = 1000;

describe('ReportSchedule', () => {
  it('reports first after 15 s, then after gaps that double up to the cap', () => {
    const schedule = new ReportSchedule(0, 100 * S);
    expect(FIRST_REPORT_MS).toBe(15 * S);
    const reportedAt: number[] = [];
    let done = 0;
    for (let t = 0; t <= 410 * S; t += S) if (schedule.take(++done, t)) reportedAt.push(t / S);
    expect(reportedAt).toEqual([15, 45, 105, 205, 305, 405]);
  });

  it('skips a due report when nothing changed, and sends it as soon as something does', () => {
    const schedule = new ReportSchedule(0, 600 * S);
    expect(schedule.take(5, 15 * S)).toBe(true);
    expect(schedule.take(5, 50 * S)).toBe(false);
    expect(schedule.take(5, 80 * S)).toBe(false);
    expect(schedule.take(6, 81 * S)).toBe(true);
    expect(schedule.take(7, 100 * S)).toBe(false);
  });

  it('keeps a batch of a day to a few hundred reports', () => {
    // 16 chunks, each running 12 hours (two waves of 8): a report whenever one is due.
    const chunks = 16;
    let reports = 0;
    for (let c = 0; c < chunks; c++) {
      const schedule = new ReportSchedule(0, 10 * 60 * S * chunks);
      for (let t = 0, done = 0; t <= 12 * 3600 * S; t += 5 * S) if (schedule.take(++done, t)) reports++;
    }
    expect(reports).toBeLessThan(300);
  });
});
