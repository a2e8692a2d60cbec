/**
 * Workflows: deterministic orchestration only, bundled into Temporal's sandbox. Nothing reachable from
 * here may do I/O, read the clock other than through Temporal, or import a Node built-in; activities are
 * referenced by type only.
 */
export * from './batch-workflow';
export * from './upstream-budget-workflow';
