/** Pins listing order and cursors of files and batches (newest first, `after` = id of the last item seen). */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BatchRecord } from '../../../common/batch';
import { emptyUsage } from '../../../common/batch';
import type { FileRecord } from '../../../common/file';
import { Catalog, newBatchId, newFileId } from '../../../storage';
import { LocalFileStore } from '../../../storage/local-file-store';

function fileRecord(owner: string, purpose: FileRecord['file']['purpose'] = 'batch'): FileRecord {
  return {
    owner,
    file: {
      id: newFileId(),
      object: 'file',
      bytes: 1,
      created_at: 1,
      expires_at: null,
      filename: 'f.jsonl',
      purpose,
      status: 'processed',
      status_details: null,
    },
  };
}

function batchRecord(owner: string): BatchRecord {
  return {
    owner,
    webhookUrl: null,
    outputExpiresAfterSeconds: null,
    batch: {
      id: newBatchId(),
      object: 'batch',
      endpoint: '/v1/chat/completions',
      model: null,
      errors: null,
      input_file_id: 'file-x',
      completion_window: '24h',
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: 1,
      in_progress_at: null,
      expires_at: 2,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      usage: emptyUsage(),
      metadata: null,
    },
  };
}

describe('Catalog', () => {
  let dir: string;
  let catalog: Catalog;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'catalog-'));
    catalog = new Catalog(new LocalFileStore(dir));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('pages batches newest first, per owner', async () => {
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = batchRecord('me');
      mine.push(r.batch.id);
      await catalog.putBatch(r);
      await catalog.putBatch(batchRecord('them'));
    }
    const newestFirst = [...mine].reverse();
    const first = await catalog.listBatchIds('me', { limit: 2 });
    expect(first).toEqual({ items: newestFirst.slice(0, 2), hasMore: true });
    const second = await catalog.listBatchIds('me', { limit: 2, after: first.items[1] });
    expect(second).toEqual({ items: newestFirst.slice(2, 4), hasMore: true });
    const third = await catalog.listBatchIds('me', { limit: 2, after: second.items[1] });
    expect(third).toEqual({ items: newestFirst.slice(4), hasMore: false });
    // A cursor at the last item gives an empty page, never an error.
    expect(await catalog.listBatchIds('me', { limit: 2, after: newestFirst[4] })).toEqual({
      items: [],
      hasMore: false,
    });
    expect(await catalog.listBatchIds('me', { limit: 2, after: 'not-an-id' })).toEqual({ items: [], hasMore: false });
  });

  it('writes batch.json only if absent when asked', async () => {
    const r = batchRecord('me');
    expect(await catalog.putBatch(r, { ifAbsent: true })).toBe(true);
    expect(await catalog.putBatch({ ...r, owner: 'other' }, { ifAbsent: true })).toBe(false);
    expect((await catalog.getBatch(r.batch.id))?.owner).toBe('me');
  });

  it('lists files in either order, filtered by purpose, and forgets deleted ones', async () => {
    const records = [fileRecord('me'), fileRecord('me', 'batch_output'), fileRecord('me'), fileRecord('you')];
    for (const r of records) await catalog.putFile(r);
    const ids = (p: { items: FileRecord[] }) => p.items.map((r) => r.file.id);
    expect(ids(await catalog.listFiles('me', { order: 'asc', limit: 10 }))).toEqual(
      records.slice(0, 3).map((r) => r.file.id),
    );
    expect(ids(await catalog.listFiles('me', { order: 'desc', limit: 10 }))).toEqual(
      records
        .slice(0, 3)
        .map((r) => r.file.id)
        .reverse(),
    );
    const batchOnly = await catalog.listFiles('me', { order: 'asc', limit: 1, purpose: 'batch' });
    expect(ids(batchOnly)).toEqual([records[0].file.id]);
    expect(batchOnly.hasMore).toBe(true);
    const next = await catalog.listFiles('me', { order: 'asc', limit: 1, purpose: 'batch', after: records[0].file.id });
    expect(ids(next)).toEqual([records[2].file.id]);
    expect(next.hasMore).toBe(false);

    await catalog.deleteFile(records[0]);
    expect(await catalog.getFile(records[0].file.id)).toBeNull();
    expect(ids(await catalog.listFiles('me', { order: 'asc', limit: 10 }))).toEqual([
      records[1].file.id,
      records[2].file.id,
    ]);
  });

  it('treats a file past expires_at as gone, and deletes it', async () => {
    const expired = fileRecord('me');
    expired.file.expires_at = Math.floor(Date.now() / 1000) - 1;
    const live = fileRecord('me');
    live.file.expires_at = Math.floor(Date.now() / 1000) + 3600;
    await catalog.store.write(`files/${expired.file.id}/content`, 'x');
    await catalog.putFile(expired);
    await catalog.putFile(live);
    const listed = await catalog.listFiles('me', { order: 'asc', limit: 10 });
    expect(listed.items.map((r) => r.file.id)).toEqual([live.file.id]);
    expect(await catalog.getFile(expired.file.id)).toBeNull();
    expect(await catalog.store.list(`files/${expired.file.id}/`)).toEqual([]);
    expect(await catalog.getFile(live.file.id)).toEqual(live);
  });

  it('refuses ids that are not plain tokens', async () => {
    expect(await catalog.getFile('../batches/x')).toBeNull();
    expect(await catalog.getBatch('a/b')).toBeNull();
  });
});
