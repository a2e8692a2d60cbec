import { readdir, readFile } from 'node:fs/promises';
import { PerformanceObserver } from 'node:perf_hooks';

/** CPU seconds by name. */
export type CpuSeconds = Record<string, number>;

/** Wall time, CPU time of this process (all threads) and GC pauses of one measured run, in ms. */
export interface Measured {
  wallMs: number;
  cpuMs: number;
  gcMs: number;
}

/** Wall time, CPU time of this process (all threads) and GC pauses, while `run` runs. */
export async function measured(run: () => Promise<unknown>): Promise<Measured> {
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  await new Promise((r) => setImmediate(r)); // the last GC entries
  gc.disconnect();
  return { wallMs, cpuMs: (used.user + used.system) / 1000, gcMs };
}

/**
 * The CPU seconds used while `run` runs: by this process as 'bench (client)', and by each of `pids` with its
 * descendants (the machine's cores are shared by all of them).
 */
export async function cpuDuring<T>(
  pids: Record<string, number | undefined>,
  run: () => Promise<T>,
): Promise<{ result: T; cpu: CpuSeconds }> {
  const before = await cpuSecondsOfTrees(pids);
  const own = process.cpuUsage();
  const result = await run();
  const used = process.cpuUsage(own);
  const after = await cpuSecondsOfTrees(pids);
  const cpu = {
    'bench (client)': (used.user + used.system) / 1e6,
    ...Object.fromEntries(Object.keys(pids).map((k) => [k, after[k] - before[k]])),
  };
  return { result, cpu };
}

/** The CPU seconds each thread of process `pid` used while `run` ran, most first (from 0.01 s). */
export async function threadCpuDuring<T>(
  pid: number | undefined,
  run: () => Promise<T>,
): Promise<{ result: T; threads: [string, number][] }> {
  const before = await cpuSecondsByThread(pid);
  const result = await run();
  const after = await cpuSecondsByThread(pid);
  const threads = Object.entries(after)
    .map(([name, s]): [string, number] => [name, s - (before[name] ?? 0)])
    .filter(([, s]) => s >= 0.01)
    .sort((a, b) => b[1] - a[1]);
  return { result, threads };
}

/** CPU seconds (user + system) used so far by each process and its descendants, from /proc. */
async function cpuSecondsOfTrees(pids: Record<string, number | undefined>): Promise<CpuSeconds> {
  const stats = new Map<number, { ppid: number; seconds: number }>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const { ppid, seconds } = parseStat(await readFile(`/proc/${entry}/stat`, 'utf8'));
      stats.set(Number(entry), { ppid, seconds });
    } catch {
      // The process ended meanwhile.
    }
  }
  const result: CpuSeconds = {};
  for (const [name, root] of Object.entries(pids)) {
    let total = 0;
    const pending = root === undefined ? [] : [root];
    while (pending.length > 0) {
      const pid = pending.pop()!;
      total += stats.get(pid)?.seconds ?? 0;
      for (const [child, s] of stats) if (s.ppid === pid) pending.push(child);
    }
    result[name] = total;
  }
  return result;
}

/** CPU seconds of one process's threads by thread: the main thread, and the others by name. */
async function cpuSecondsByThread(pid: number | undefined): Promise<CpuSeconds> {
  const result: CpuSeconds = {};
  if (pid === undefined) return result;
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    try {
      const { name, seconds } = parseStat(await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      const key = tid === String(pid) ? 'main thread' : name.replace(/[\d-]+$/, '');
      result[key] = (result[key] ?? 0) + seconds;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return result;
}

/** The name, parent and CPU seconds (user + system) in a /proc stat line. */
function parseStat(text: string): { name: string; ppid: number; seconds: number } {
  // The name is in parentheses and may hold spaces; the fields after it are numbered from 3 (state).
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return {
    name: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')),
    ppid: Number(fields[1]),
    seconds: ticks / 100,
  };
}
