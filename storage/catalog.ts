import type { BatchRecord } from '../common/batch';
import type { FilePurpose, FileRecord } from '../common/file';
import type { FileStore } from './file-store';
import { readJson, writeJson } from './file-store';
import { BATCH_ID_PREFIX, FILE_ID_PREFIX, idFromIndexKey, indexKey, keys } from './keys';

export interface Page<T> {
  items: T[];
  hasMore: boolean;
}

export interface FileListOptions {
  order: 'asc' | 'desc';
  limit: number;
  /** Id of the last item of the previous page. */
  after?: string;
  purpose?: FilePurpose;
}

/** Index pages are read in slices of this many keys while filtering. */
const LIST_SLICE = 200;

/**
 * The records of files and batches on top of a {@link FileStore}: one JSON record per object beside its
 * content, and index markers per owner for listing. Used by the API and by the activities.
 */
export class Catalog {
  constructor(readonly store: FileStore) {}

  /**
   * The file's record, or null when there is none. A file past its `expires_at` is gone, as at OpenAI:
   * it is deleted on first sight and reads as missing.
   */
  async getFile(fileId: string, now: number = Date.now()): Promise<FileRecord | null> {
    if (!validKey(fileId)) return null;
    const record = await readJson<FileRecord>(this.store, keys.fileRecord(fileId));
    if (record !== null && record.file.expires_at !== null && record.file.expires_at * 1000 <= now) {
      await this.deleteFile(record);
      return null;
    }
    return record;
  }

  /** Stores the record of a file whose content is already in place, and indexes it. */
  async putFile(record: FileRecord): Promise<void> {
    const { id } = record.file;
    await writeJson(this.store, keys.fileRecord(id), record);
    await Promise.all(this.fileIndexKeys(record).map((key) => this.store.write(key, '')));
  }

  /** Removes a file's index entries, record and content, in that order, so nothing lists a half-deleted file. */
  async deleteFile(record: FileRecord): Promise<void> {
    const { id } = record.file;
    await Promise.all(this.fileIndexKeys(record).map((key) => this.store.delete(key)));
    await this.store.delete(keys.fileRecord(id));
    await this.store.delete(keys.fileContent(id));
  }

  async listFiles(owner: string, options: FileListOptions): Promise<Page<FileRecord>> {
    const prefix = keys.fileIndexPrefix(owner, options.order);
    const index = { prefix, idPrefix: FILE_ID_PREFIX, order: options.order };
    return this.listIndexed(index, options.after, options.limit, async (key) => {
      const record = await this.getFile(idFromIndexKey(key, FILE_ID_PREFIX, options.order));
      return record !== null && (options.purpose === undefined || record.file.purpose === options.purpose)
        ? record
        : null;
    });
  }

  async getBatch(batchId: string): Promise<BatchRecord | null> {
    return validKey(batchId) ? readJson<BatchRecord>(this.store, keys.batchRecord(batchId)) : null;
  }

  /**
   * Stores `batch.json` (only if absent when `ifAbsent`) and makes sure the batch is indexed.
   * Resolves to false when `ifAbsent` found a record already there.
   */
  async putBatch(record: BatchRecord, options: { ifAbsent?: boolean } = {}): Promise<boolean> {
    const written = await writeJson(this.store, keys.batchRecord(record.batch.id), record, options);
    const key = indexKey(keys.batchIndexPrefix(record.owner), BATCH_ID_PREFIX, record.batch.id, 'desc');
    if (key !== null) await this.store.write(key, '');
    return written;
  }

  /** Ids of the owner's batches, newest first, after the batch `after`. */
  async listBatchIds(owner: string, options: { after?: string; limit: number }): Promise<Page<string>> {
    const index = { prefix: keys.batchIndexPrefix(owner), idPrefix: BATCH_ID_PREFIX, order: 'desc' as const };
    return this.listIndexed(index, options.after, options.limit, (key) =>
      Promise.resolve(idFromIndexKey(key, BATCH_ID_PREFIX, 'desc')),
    );
  }

  /** The keys of a file's entries in the ascending and the descending index. */
  private fileIndexKeys(record: FileRecord): string[] {
    return (['asc', 'desc'] as const)
      .map((order) => indexKey(keys.fileIndexPrefix(record.owner, order), FILE_ID_PREFIX, record.file.id, order))
      .filter((key): key is string => key !== null);
  }

  /**
   * Walks index keys under `index.prefix` after the cursor id, resolving each to an item (null skips it), until
   * `limit` items and one more are found or the index ends.
   */
  private async listIndexed<T>(
    { prefix, idPrefix, order }: { prefix: string; idPrefix: string; order: 'asc' | 'desc' },
    after: string | undefined,
    limit: number,
    resolve: (key: string) => Promise<T | null>,
  ): Promise<Page<T>> {
    let startAfter: string | undefined;
    if (after !== undefined) {
      const cursor = indexKey(prefix, idPrefix, after, order);
      // An id we never issued cannot be a position in the list: nothing follows it.
      if (cursor === null) return { items: [], hasMore: false };
      startAfter = cursor;
    }
    const items: T[] = [];
    for (;;) {
      const slice = await this.store.list(prefix, { startAfter, limit: Math.min(LIST_SLICE, limit + 1) });
      const resolved = await Promise.all(slice.map(resolve));
      for (const item of resolved) {
        if (item === null) continue;
        if (items.length === limit) return { items, hasMore: true };
        items.push(item);
      }
      if (slice.length === 0 || slice.length < Math.min(LIST_SLICE, limit + 1)) return { items, hasMore: false };
      startAfter = slice[slice.length - 1];
    }
  }
}

/** Ids arrive from URLs: refuse anything that could address another key. */
function validKey(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(id);
}
