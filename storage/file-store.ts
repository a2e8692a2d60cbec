import type { Readable } from 'node:stream';

/** A byte range [start, end) of an object; `end` defaults to the end of the object. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface WriteOptions {
  /** Write only if no object exists at the key yet; resolves to `false` (writing nothing) otherwise. */
  ifAbsent?: boolean;
}

/**
 * The storage port: flat keys (`a/b/c`) mapping to immutable-once-written byte objects.
 *
 * Every adapter streams in and out; none holds a whole object in memory unless asked to with
 * {@link FileStore.read}. An object appears whole or not at all: readers never see a partial write.
 */
export interface FileStore {
  /**
   * Streams `source` into the object at `key`, replacing any object there.
   * Resolves to the number of bytes written, or `false` when `ifAbsent` was set and an object existed.
   */
  write(key: string, source: Readable | Buffer | string, options?: WriteOptions): Promise<number | false>;
  /** Opens a stream over the object or a byte range of it. Throws {@link ObjectNotFoundError} when missing. */
  createReadStream(key: string, range?: ByteRange): Promise<Readable>;
  /** Reads a whole (small) object, or null when missing. */
  read(key: string): Promise<Buffer | null>;
  /** The object's size, or null when missing. */
  stat(key: string): Promise<{ size: number } | null>;
  /**
   * Keys beginning with `prefix`, in ascending byte order, after `startAfter` when given, at most `limit`.
   */
  list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<string[]>;
  /** Deletes the object; deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Deletes every object whose key begins with `prefix`. */
  deletePrefix(prefix: string): Promise<void>;
  /** Writes the concatenation of `sources`, in order, to `dest`. Resolves to the bytes written. */
  concat(sources: string[], dest: string): Promise<number>;
  /** Resolves when the store can be read and written; throws otherwise. */
  check(): Promise<void>;
  /**
   * Deletes what interrupted writes left behind (a process killed during an upload) and no live write
   * owns; resolves to what it deleted.
   */
  removeAbandoned(): Promise<string[]>;
}

/** Thrown when an object that must exist does not. */
export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`No object at '${key}'`);
    this.name = 'ObjectNotFoundError';
  }
}

/** Reads and parses a small JSON object, or null when missing. */
export async function readJson<T>(store: FileStore, key: string): Promise<T | null> {
  const bytes = await store.read(key);
  return bytes === null ? null : (JSON.parse(bytes.toString('utf8')) as T);
}

/** Serializes `value` as JSON into the object at `key`. */
export async function writeJson(
  store: FileStore,
  key: string,
  value: unknown,
  options?: WriteOptions,
): Promise<boolean> {
  return (await store.write(key, JSON.stringify(value), options)) !== false;
}
