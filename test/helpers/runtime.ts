import { DefaultLogger, Runtime } from '@temporalio/worker';

/** Installs the Temporal runtime with a logger that prints only problems; a second call is a no-op. */
export function quietTemporalRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed in this module registry: keep it.
  }
}
