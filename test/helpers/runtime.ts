import { DefaultLogger, Runtime } from '@temporalio/worker';

/** Installs the Temporal runtime with a logger that prints only errors (tests provoke warnings on purpose); a second call is a no-op. */
export function quietTemporalRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // Already installed in this module registry: keep it.
  }
}
