import type { Request } from 'express';
import type { Readable } from 'node:stream';
import type { FileRecord } from '../common/file';
import { newFileObject } from '../common/file';
import type { Catalog } from '../storage';
import { keys, newFileId, ObjectNotFoundError } from '../storage';
import { BadRequestError, NotFoundError } from './errors';
import { receiveUpload } from './multipart';
import { FileCreateParams } from './schemas/file';
import type { FileListParams } from './schemas/file';
import { parseParams } from './schemas/parse';

/** Files of purpose `batch` expire after 30 days unless `expires_after` says otherwise. */
const BATCH_FILE_LIFETIME_SECONDS = 30 * 24 * 3600;
const MAX_FILENAME_LENGTH = 255;

export type FileService = ReturnType<typeof createFileService>;

/** Uploads, reads, lists and deletes files, each visible only to its owner. */
export function createFileService({ catalog, maxFileBytes }: { catalog: Catalog; maxFileBytes: number }) {
  const { store } = catalog;

  async function load(fileId: string, owner: string): Promise<FileRecord> {
    const record = await catalog.getFile(fileId);
    if (record === null || record.owner !== owner) {
      throw new NotFoundError(`No such File object: ${fileId}`, 'file_id');
    }
    return record;
  }

  return {
    load,

    async upload(req: Request, owner: string): Promise<FileRecord> {
      const id = newFileId();
      const contentKey = keys.fileContent(id);
      const { fields, file } = await receiveUpload(req, { store, key: contentKey, maxFileBytes });
      try {
        if (file === null)
          throw new BadRequestError("Missing required parameter: 'file'.", 'file', 'missing_required_parameter');
        const params = parseParams(FileCreateParams, bracketFields(fields));
        const filename = baseName(file.filename);
        if (params.purpose === 'batch' && !filename.toLowerCase().endsWith('.jsonl')) {
          throw new BadRequestError('Invalid file format for Batch API. Must be .jsonl', 'file');
        }
        const lifetime =
          params.expires_after?.seconds ?? (params.purpose === 'batch' ? BATCH_FILE_LIFETIME_SECONDS : null);
        const record: FileRecord = {
          owner,
          file: newFileObject({
            id,
            bytes: file.bytes,
            filename,
            purpose: params.purpose,
            createdAt: Math.floor(Date.now() / 1000),
            lifetimeSeconds: lifetime,
          }),
        };
        await catalog.putFile(record);
        return record;
      } catch (err) {
        await store.delete(contentKey);
        throw err;
      }
    },

    async list(owner: string, params: FileListParams): Promise<{ data: FileRecord[]; hasMore: boolean }> {
      const page = await catalog.listFiles(owner, {
        order: params.order,
        limit: params.limit,
        after: params.after,
        purpose: params.purpose as FileRecord['file']['purpose'] | undefined,
      });
      return { data: page.items, hasMore: page.hasMore };
    },

    async remove(fileId: string, owner: string): Promise<void> {
      await catalog.deleteFile(await load(fileId, owner));
    },

    /** The file's bytes as a stream, with its size. */
    async content(fileId: string, owner: string): Promise<{ record: FileRecord; stream: Readable }> {
      const record = await load(fileId, owner);
      try {
        return { record, stream: await store.createReadStream(keys.fileContent(fileId)) };
      } catch (err) {
        if (err instanceof ObjectNotFoundError) throw new NotFoundError(`No such File object: ${fileId}`, 'file_id');
        throw err;
      }
    },
  };
}

/** Turns `expires_after[anchor]`-style multipart fields into nested objects. */
export function bracketFields(fields: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    const m = /^([^[\]]+)\[([^[\]]+)\]$/.exec(name);
    if (m === null) {
      out[name] = value;
      continue;
    }
    const parent = (out[m[1]] ??= {}) as Record<string, unknown>;
    if (typeof parent === 'object') parent[m[2]] = value;
  }
  return out;
}

/** A filename is a name only: directories (either slash) and control characters are dropped. */
export function baseName(filename: string): string {
  const name = filename
    .split(/[\\/]/)
    .pop()
    ?.replace(/[\u0000-\u001f\u007f]/g, '')
    .trim()
    .slice(0, MAX_FILENAME_LENGTH);
  return name && name !== '.' && name !== '..' ? name : 'file';
}
