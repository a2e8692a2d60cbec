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
