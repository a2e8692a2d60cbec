import type { Batch, Metadata } from '../../../common/batch';
import type { FileObject } from '../../../common/file';

/** An error the API answered with: its message is shown to people as the API wrote it. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Page<T> {
  data: T[];
  has_more: boolean;
  last_id: string | null;
}

export interface BatchCreateParams {
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  metadata?: Metadata;
}

/**
 * The OpenAI Files and Batches API, as the SDKs call it, from the browser: same origin (`v1/…` relative to
 * the page), the API key as a Bearer token, and every error in the API's own words.
 */
export class BatchApi {
  constructor(private readonly key: string | null) {}

  listBatches(after?: string, limit = 20): Promise<Page<Batch>> {
    return this.get(`batches?limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
  }

  getBatch(id: string): Promise<Batch> {
    return this.get(`batches/${encodeURIComponent(id)}`);
  }

  createBatch(params: BatchCreateParams): Promise<Batch> {
    return this.call('POST', 'batches', params);
  }

  cancelBatch(id: string): Promise<Batch> {
    return this.call('POST', `batches/${encodeURIComponent(id)}/cancel`);
  }

  listFiles(after?: string, limit = 20): Promise<Page<FileObject>> {
    return this.get(`files?limit=${limit}${after ? `&after=${encodeURIComponent(after)}` : ''}`);
  }

  getFile(id: string): Promise<FileObject> {
    return this.get(`files/${encodeURIComponent(id)}`);
  }

  deleteFile(id: string): Promise<unknown> {
    return this.call('DELETE', `files/${encodeURIComponent(id)}`);
  }

  /** The file's content. */
  async fileContent(id: string): Promise<Blob> {
    const res = await this.fetch('GET', `files/${encodeURIComponent(id)}/content`);
    return res.blob();
  }

  /**
   * Uploads a file with purpose `batch` (multipart, streamed by the browser), telling `onProgress` the share
   * sent (0–1). XMLHttpRequest because fetch reports no upload progress.
   */
  upload(file: File, onProgress: (sent: number) => void): Promise<FileObject> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', 'v1/files');
      if (this.key !== null) xhr.setRequestHeader('Authorization', `Bearer ${this.key}`);
      xhr.upload.addEventListener('progress', (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
      xhr.addEventListener('load', () => {
        let body: unknown = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          // Not JSON: described below.
        }
        if (xhr.status >= 200 && xhr.status < 300) resolve(body as FileObject);
        else reject(errorOf(xhr.status, body));
      });
      xhr.addEventListener('error', () => reject(new ApiError('The upload could not reach the API.', 0)));
      const form = new FormData();
      form.append('purpose', 'batch');
      form.append('file', file, file.name);
      xhr.send(form);
    });
  }

  private get<T>(path: string): Promise<T> {
    return this.call('GET', path);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(method, path, body);
    return (await res.json()) as T;
  }

  private async fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.key !== null) headers.Authorization = `Bearer ${this.key}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`v1/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiError(`Could not reach the API: ${(err as Error).message}`, 0);
    }
    if (!res.ok) throw errorOf(res.status, await res.json().catch(() => null));
    return res;
  }
}

/** The API's error envelope, `{error: {message, code}}`, as an {@link ApiError}. */
function errorOf(status: number, body: unknown): ApiError {
  const error = (body as { error?: { message?: unknown; code?: unknown } } | null)?.error;
  const message = typeof error?.message === 'string' ? error.message : `The API answered ${status}.`;
  return new ApiError(message, status, typeof error?.code === 'string' ? error.code : null);
}
