import { z } from 'zod';
import type { FileObject, FileRecord } from '../../common/file';
import { UPLOAD_PURPOSES } from '../../common/file';
import { CursorPageParams, limitParam } from './pagination';

/**
 * The text fields of `POST /v1/files`. Multipart sends everything as text, and both SDKs flatten
 * `expires_after` into bracketed fields: `expires_after[anchor]`, `expires_after[seconds]`.
 */
export const FileCreateParams = z.object({
  purpose: z.enum(UPLOAD_PURPOSES),
  expires_after: z
    .object({
      anchor: z.literal('created_at'),
      seconds: z.coerce.number().int().min(3600).max(2_592_000),
    })
    .optional(),
});
export type FileCreateParams = z.infer<typeof FileCreateParams>;

export const FileListParams = CursorPageParams.extend({
  limit: limitParam(10_000, 10_000),
  order: z.enum(['asc', 'desc']).default('desc'),
  purpose: z.string().min(1).optional(),
});
export type FileListParams = z.infer<typeof FileListParams>;

export interface FileDeleted {
  id: string;
  object: 'file';
  deleted: true;
}

/** The File object as sent on the wire: the record without who owns it. */
export function toFileObject(record: FileRecord): FileObject {
  return record.file;
}
