import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Storage } from '@google-cloud/storage';
import type { Bucket, File } from '@google-cloud/storage';
import type { ByteRange, FileStore, WriteOptions } from './file-store';
import { ObjectNotFoundError } from './file-store';

export interface GcsOptions {
  bucket: string;
  /** Prepended to every key, e.g. `openai-batch/`. */
  prefix: string;
  /** An emulator such as fake-gcs-server (`http://host:port`); no credentials are used then. */
  apiEndpoint?: string | null;
  projectId?: string;
}

const GCS_ENDPOINT = 'https://storage.googleapis.com';
/** GCS composes at most this many sources per request. */
const COMPOSE_MAX_SOURCES = 32;
/** Small payloads go up in one request; streams use a resumable upload, which survives a dropped connection. */
const SIMPLE_UPLOAD_MAX_BYTES = 8 * 1024 * 1024;
const PAGE_SIZE = 1000;

/**
 * A {@link FileStore} on a Google Cloud Storage bucket. Uploads are atomic (an object appears whole or not
 * at all), `ifAbsent` is a generation precondition, ranges are ranged reads, listing is lexicographic as on
 * local disk, and concatenation composes the parts server-side (in levels of 32) without downloading them.
 */
export class GcsFileStore implements FileStore {
  private readonly bucket: Bucket;
  private readonly prefix: string;

  constructor(options: GcsOptions) {
    const emulator = options.apiEndpoint ? emulatorEndpoint(options.apiEndpoint) : null;
    const apiEndpoint = emulator ?? GCS_ENDPOINT;
    const storage = new Storage({
      apiEndpoint,
      // Real GCS signs requests even where the library takes the endpoint for a custom one (below).
      useAuthWithCustomEndpoint: emulator === null,
      ...(options.projectId ? { projectId: options.projectId } : {}),
    });
    // The library also reads STORAGE_EMULATOR_HOST from the environment itself: set, it becomes the JSON
    // API's base without `/storage/v1` (every request 404s on fake-gcs-server); set empty (compose's way of
    // saying "real GCS"), the endpoint becomes `https://`. The configuration decides, so the base is set here.
    storage.baseUrl = `${apiEndpoint}/storage/v1`;
    this.bucket = storage.bucket(options.bucket);
    this.prefix = options.prefix === '' || options.prefix.endsWith('/') ? options.prefix : `${options.prefix}/`;
  }

  async write(key: string, source: Readable | Buffer | string, options: WriteOptions = {}): Promise<number | false> {
    // A stream may fail before the upload listens to it: keep the error for the pipeline below.
    if (typeof source !== 'string' && !Buffer.isBuffer(source)) source.on('error', noop);
    const file = this.file(key);
    const preconditionOpts = options.ifAbsent ? { ifGenerationMatch: 0 } : undefined;
    let bytes = 0;
    try {
      if (typeof source === 'string' || Buffer.isBuffer(source)) {
        const data = typeof source === 'string' ? Buffer.from(source) : source;
        if (data.length <= SIMPLE_UPLOAD_MAX_BYTES) {
          await file.save(data, { resumable: false, validation: false, preconditionOpts });
          return data.length;
        }
        source = Readable.from([data]);
      }
      source.on('data', (chunk: Buffer | string) => {
        bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      });
      await pipeline(source, file.createWriteStream({ resumable: true, validation: false, preconditionOpts }));
      return bytes;
    } catch (err) {
      if (options.ifAbsent && status(err) === 412) return false;
      throw err;
    }
  }

  async createReadStream(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.file(key);
    const start = range?.start ?? 0;
    const end = range?.end;
    if (end !== undefined && end <= start) {
      if ((await this.stat(key)) === null) throw new ObjectNotFoundError(key);
      return Readable.from([]);
    }
    // Ask for the object first: a missing one is an error now, not an 'error' event on the stream later.
    if ((await this.stat(key)) === null) throw new ObjectNotFoundError(key);
    return file.createReadStream({ start, ...(end !== undefined ? { end: end - 1 } : {}), validation: false });
  }

  async read(key: string): Promise<Buffer | null> {
    try {
      const [data] = await this.file(key).download({ validation: false });
      return data;
    } catch (err) {
      if (status(err) === 404) return null;
      throw err;
    }
  }

  async stat(key: string): Promise<{ size: number } | null> {
    try {
      const [metadata] = await this.file(key).getMetadata();
      return { size: Number(metadata.size ?? 0) };
    } catch (err) {
      if (status(err) === 404) return null;
      throw err;
    }
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<string[]> {
    const { startAfter, limit = Infinity } = options;
    const out: string[] = [];
    let pageToken: string | undefined;
    for (;;) {
      const [files, next] = await this.bucket.getFiles({
        prefix: this.prefix + prefix,
        // startOffset is inclusive: the key itself is dropped below.
        ...(startAfter !== undefined ? { startOffset: this.prefix + startAfter } : {}),
        maxResults: Math.min(PAGE_SIZE, limit === Infinity ? PAGE_SIZE : limit + 1),
        autoPaginate: false,
        ...(pageToken ? { pageToken } : {}),
      });
      for (const file of files) {
        const key = file.name.slice(this.prefix.length);
        if (startAfter !== undefined && key <= startAfter) continue;
        out.push(key);
        if (out.length >= limit) return out;
      }
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
      if (!pageToken) return out;
    }
  }

  async delete(key: string): Promise<void> {
    await this.file(key).delete({ ignoreNotFound: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    const keys = await this.list(prefix);
    for (let i = 0; i < keys.length; i += 32) {
      await Promise.all(keys.slice(i, i + 32).map((key) => this.delete(key)));
    }
  }

  async concat(sources: string[], dest: string): Promise<number> {
    if (sources.length === 0) return (await this.write(dest, '')) || 0;
    let level = sources.map((key) => this.file(key));
    const temporaries: File[] = [];
    try {
      // Compose in levels of at most 32 sources: 250 parts become 8, then 1.
      while (level.length > COMPOSE_MAX_SOURCES) {
        const next: File[] = [];
        for (let i = 0; i < level.length; i += COMPOSE_MAX_SOURCES) {
          const part = this.file(`${dest}.compose-${randomBytes(6).toString('hex')}`);
          await this.bucket.combine(level.slice(i, i + COMPOSE_MAX_SOURCES), part);
          temporaries.push(part);
          next.push(part);
        }
        level = next;
      }
      await this.bucket.combine(level, this.file(dest));
    } catch (err) {
      // GCS answers a missing source with 404, emulators differ: name the missing part either way.
      const stats = await Promise.all(sources.map((key) => this.stat(key)));
      const missing = sources.find((_, i) => stats[i] === null);
      if (missing !== undefined) throw new ObjectNotFoundError(missing);
      throw err;
    } finally {
      await Promise.all(temporaries.map((f) => f.delete({ ignoreNotFound: true })));
    }
    return (await this.stat(dest))?.size ?? 0;
  }

  async check(): Promise<void> {
    const [exists] = await this.bucket.exists();
    if (!exists) throw new Error(`The bucket '${this.bucket.name}' does not exist`);
  }

  /** Nothing to do: an interrupted upload never becomes an object, and GCS drops its session itself. */
  removeAbandoned(): Promise<string[]> {
    return Promise.resolve([]);
  }

  private file(key: string): File {
    if (key.length === 0 || key.split('/').some((p) => p === '' || p === '.' || p === '..')) {
      throw new Error(`Invalid storage key '${key}'`);
    }
    return this.bucket.file(this.prefix + key);
  }
}

function status(err: unknown): number | undefined {
  const e = err as { code?: number | string; response?: { status?: number } };
  return typeof e.code === 'number' ? e.code : e.response?.status;
}

/** An emulator's origin, as `apiEndpoint` takes it: also accepted with the `/storage/v1` path. */
function emulatorEndpoint(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/storage\/v1$/, '');
}

function noop(): void {}
