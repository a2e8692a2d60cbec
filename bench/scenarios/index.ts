import type { Scenario } from '../scenario';
import { capacity } from './capacity';
import { concurrent } from './concurrent';
import { executor } from './executor';
import { memory } from './memory';
import { throughput } from './throughput';
import { workers } from './workers';

/** Every scenario, in the order `npm run bench` runs them when BENCH_SCENARIOS is not set. */
export const scenarios: Scenario[] = [throughput, executor, memory, concurrent, workers, capacity];
