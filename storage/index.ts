/**
 * Storage: the {@link FileStore} port, its adapters, and the {@link Catalog} of file and batch records on
 * top of it. Imported by `api/` and `activities/` only; never by workflows.
 */
import type { StorageConfig } from '../config';
import type { FileStore } from './file-store';
import { GcsFileStore } from './gcs-file-store';
import { LocalFileStore } from './local-file-store';

export { Catalog } from './catalog';
export type { Page, FileListOptions } from './catalog';
export { ObjectNotFoundError, readJson, writeJson } from './file-store';
export type { FileStore, ByteRange } from './file-store';
export { keys } from './keys';
export * from './ids';

/** Builds the configured storage adapter. */
export function createFileStore(config: StorageConfig): FileStore {
  switch (config.kind) {
    case 'local':
      return new LocalFileStore(config.dir);
    case 'gcs':
      return new GcsFileStore({ bucket: config.bucket, prefix: config.prefix, apiEndpoint: config.emulatorHost });
  }
}

/** How often a process looks for what crashed writes left behind, besides at start. */
const HOUSEKEEPING_INTERVAL_MS = 10 * 60 * 1000;

/** The part of a logger housekeeping uses. */
interface TidyLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/**
 * Removes abandoned temporary files (the partial writes of killed processes) now and then every few
 * minutes, logging what went; returns the function that stops it. A failure is logged and tried again.
 */
export function keepStoreTidy(store: FileStore, log: TidyLog, intervalMs = HOUSEKEEPING_INTERVAL_MS): () => void {
  const sweep = () =>
    void store.removeAbandoned().then(
      (removed) => {
        if (removed.length > 0) log.info({ removed }, 'removed the temporary files of interrupted writes');
      },
      (err: unknown) => log.warn({ err: String(err) }, 'could not remove abandoned temporary files'),
    );
  sweep();
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
