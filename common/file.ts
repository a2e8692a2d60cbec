/**
 * OpenAI's File object and the record stored beside each file's content.
 */

/** Purposes a client may upload with. */
export const UPLOAD_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] as const;
export type UploadPurpose = (typeof UPLOAD_PURPOSES)[number];

/** Every purpose a File object may carry; `batch_output` is what a batch writes. */
export type FilePurpose = UploadPurpose | 'batch_output';

/** OpenAI's File object. Timestamps are integer Unix seconds. */
export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  expires_at: number | null;
  filename: string;
  purpose: FilePurpose;
  /** Deprecated by OpenAI but still required by the SDK types; always `processed` here. */
  status: 'processed';
  status_details: null;
}

/** What is stored beside a file's content: the File object plus who owns it. */
export interface FileRecord {
  owner: string;
  file: FileObject;
}

export interface NewFileParams {
  id: string;
  bytes: number;
  filename: string;
  purpose: FilePurpose;
  /** Unix seconds. */
  createdAt: number;
  /** Seconds the file lives, or null for a file that does not expire. */
  lifetimeSeconds: number | null;
}

/** A File object as OpenAI writes it: `processed`, expiring `lifetimeSeconds` after its creation. */
export function newFileObject(p: NewFileParams): FileObject {
  return {
    id: p.id,
    object: 'file',
    bytes: p.bytes,
    created_at: p.createdAt,
    expires_at: p.lifetimeSeconds === null ? null : p.createdAt + p.lifetimeSeconds,
    filename: p.filename,
    purpose: p.purpose,
    status: 'processed',
    status_details: null,
  };
}
