import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import type { Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ByteRange, FileStore, WriteOptions } from './file-store';
import { ObjectNotFoundError } from './file-store';

const TMP_DIR = '.tmp';
/**
 * A temporary file untouched this long belongs to a write nobody finishes: a live upload writes as bytes
 * arrive, and Node ends a request that takes longer than its `requestTimeout` (5 minutes).
 */
const TMP_ABANDONED_MS = 15 * 60 * 1000;
/** `concat` reads this many sources ahead, when each is at most this large (so at most 16 MiB waits). */
const CONCAT_PREFETCH = 4;
const CONCAT_PREFETCH_MAX_BYTES = 4 * 1024 * 1024;

/**
 * A {@link FileStore} on a local directory: one file per key, written to a temporary file first and then
 * renamed (or hard-linked, for `ifAbsent`) into place, so an object appears whole or not at all.
 */
export class LocalFileStore implements FileStore {
  private readonly tmpDir: string;
  /** Directories known to exist: a hot path writes many small objects into few directories. */
  private readonly knownDirs = new Set<string>();

  constructor(private readonly root: string) {
    this.root = path.resolve(root);
    // Each process writes under a directory named after it, so that another process sharing the directory
    // can tell the leftovers of a crashed one (`removeAbandoned`).
    this.tmpDir = path.join(this.root, TMP_DIR, `${hostname()}~${process.pid}~${randomBytes(4).toString('hex')}`);
  }

  /**
   * Deletes the temporary files of writes that will never finish: the folder of a process on this machine
   * that is gone (a `kill -9` during an upload), and any file untouched for {@link TMP_ABANDONED_MS} (a
   * process on another machine sharing the directory). Resolves to what it deleted, relative to `.tmp`.
   */
  async removeAbandoned(now = Date.now()): Promise<string[]> {
    const tmpRoot = path.dirname(this.tmpDir);
    const removed: string[] = [];
    const removeOld = async (dir: string, names: string[]) => {
      for (const name of names) {
        const full = path.join(dir, name);
        const stat = await fs.stat(full).catch(() => null);
        if (stat?.isFile() && stat.mtimeMs < now - TMP_ABANDONED_MS) {
          await fs.rm(full, { force: true });
          removed.push(path.relative(tmpRoot, full));
        }
      }
    };
    const entries = await readdirIfAny(tmpRoot);
    await removeOld(
      tmpRoot,
      entries.filter((e) => e.isFile()).map((e) => e.name),
    );
    for (const entry of entries.filter((e) => e.isDirectory())) {
      const full = path.join(tmpRoot, entry.name);
      if (full === this.tmpDir) continue;
      const [host, pid] = entry.name.split('~');
      if (host === hostname() && !processAlive(Number(pid))) {
        await fs.rm(full, { recursive: true, force: true });
        removed.push(entry.name);
      } else {
        await removeOld(
          full,
          (await readdirIfAny(full)).map((e) => e.name),
        );
      }
    }
    return removed;
  }

  async write(key: string, source: Readable | Buffer | string, options: WriteOptions = {}): Promise<number | false> {
    // A stream may fail before the pipeline below listens (during the awaits before it): keep the error
    // for the pipeline, which reports a stream that already failed, instead of letting it crash the process.
    if (typeof source !== 'string' && !Buffer.isBuffer(source)) source.on('error', noop);
    const target = this.pathOf(key);
    await this.ensureDir(this.tmpDir);
    const tmp = path.join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    let bytes = 0;
    let placed = false;
    try {
      if (typeof source === 'string' || Buffer.isBuffer(source)) {
        // Small objects (segments, records) are most writes: one call, no stream machinery.
        await fs.writeFile(tmp, source);
        bytes = typeof source === 'string' ? Buffer.byteLength(source) : source.length;
      } else {
        const out = createWriteStream(tmp);
        source.on('data', (chunk: Buffer | string) => {
          bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
        });
        await pipeline(source, out);
      }
      await this.ensureDir(path.dirname(target));
      if (options.ifAbsent) {
        try {
          await this.intoPlace(target, () => fs.link(tmp, target));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
          throw err;
        }
      } else {
        await this.intoPlace(target, () => fs.rename(tmp, target));
        placed = true;
      }
      return bytes;
    } finally {
      if (!placed) await fs.rm(tmp, { force: true });
    }
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await fs.mkdir(dir, { recursive: true });
    this.knownDirs.add(dir);
  }

  /** Runs the link or rename that places an object, recreating its directory if it vanished meanwhile. */
  private async intoPlace(target: string, place: () => Promise<void>): Promise<void> {
    try {
      await place();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.knownDirs.clear();
      await this.ensureDir(path.dirname(target));
      await place();
    }
  }

  async createReadStream(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(key);
    let handle: fs.FileHandle;
    try {
      // Opening first turns a missing object into an error now, not an 'error' event later.
      handle = await fs.open(file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError(key);
      throw err;
    }
    const start = range?.start ?? 0;
    const end = range?.end;
    if (end !== undefined && end <= start) {
      await handle.close();
      return Readable.from([]);
    }
    return createReadStream('', {
      fd: handle,
      start,
      end: end === undefined ? undefined : end - 1,
      highWaterMark: 256 * 1024,
    });
  }

  async read(key: string): Promise<Buffer | null> {
    try {
      return await fs.readFile(this.pathOf(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async stat(key: string): Promise<{ size: number } | null> {
    try {
      const s = await fs.stat(this.pathOf(key));
      return s.isFile() ? { size: s.size } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<string[]> {
    // A prefix names a directory plus the start of a name inside it, as in GCS.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const keys: string[] = [];
    await this.walk(dirKey, keys);
    const { startAfter, limit = Infinity } = options;
    const out: string[] = [];
    for (const key of keys.sort(compareBytes)) {
      if (!key.startsWith(prefix)) continue;
      if (startAfter !== undefined && compareBytes(key, startAfter) <= 0) continue;
      out.push(key);
      if (out.length >= limit) break;
    }
    return out;
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.pathOf(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    if (prefix.endsWith('/')) {
      await fs.rm(this.pathOf(prefix.slice(0, -1)), { recursive: true, force: true });
      this.knownDirs.clear();
      return;
    }
    for (const key of await this.list(prefix)) await this.delete(key);
  }

  async concat(sources: string[], dest: string): Promise<number> {
    const stat = await Promise.all(sources.map((key) => this.stat(key)));
    const missing = sources.find((_, i) => stat[i] === null);
    if (missing !== undefined) throw new ObjectNotFoundError(missing);
    // A batch's result file is made of ~100 small segments: opening and reading them one after another
    // leaves the disk idle between files, so the next few small ones are read while one is written.
    const reads = new Map<number, Promise<Buffer>>();
    const prefetch = (i: number) => {
      if (i >= sources.length || reads.has(i) || stat[i]!.size > CONCAT_PREFETCH_MAX_BYTES) return;
      const read = this.read(sources[i]).then((data) => {
        if (data === null) throw new ObjectNotFoundError(sources[i]);
        return data;
      });
      read.catch(noop); // awaited below, in order; a failure of one read ahead must not go unhandled
      reads.set(i, read);
    };
    const open = (key: string) => this.createReadStream(key);
    async function* chain(): AsyncGenerator<Buffer> {
      for (let i = 0; i < sources.length; i++) {
        for (let ahead = i; ahead < i + CONCAT_PREFETCH; ahead++) prefetch(ahead);
        const read = reads.get(i);
        reads.delete(i);
        if (read !== undefined) yield await read;
        else for await (const chunk of await open(sources[i])) yield chunk as Buffer;
      }
    }
    const bytes = await this.write(dest, Readable.from(chain()));
    return bytes === false ? 0 : bytes;
  }

  async check(): Promise<void> {
    await fs.mkdir(this.tmpDir, { recursive: true });
    await fs.access(this.tmpDir, fs.constants.R_OK | fs.constants.W_OK);
  }

  private pathOf(key: string): string {
    const parts = key.split('/');
    if (key.length === 0 || parts.some((p) => p === '' || p === '.' || p === '..' || p === TMP_DIR)) {
      throw new Error(`Invalid storage key '${key}'`);
    }
    return path.join(this.root, ...parts);
  }

  private async walk(dirKey: string, out: string[]): Promise<void> {
    const dir = dirKey === '' ? this.root : this.pathOf(dirKey);
    let entries: Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    for (const entry of entries) {
      if (dirKey === '' && entry.name === TMP_DIR) continue;
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory()) await this.walk(key, out);
      else if (entry.isFile()) out.push(key);
    }
  }
}

/** Whether a process with this id runs on this machine (a signal 0 checks without sending anything). */
function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readdirIfAny(dir: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function noop(): void {}
