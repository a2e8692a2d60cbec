/**
 * Pins the FileStore contract, the same for every adapter: local disk, and GCS through fake-gcs-server.
 * Whole-or-nothing writes, ranges, ordered listing with cursors, composition, deletion.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { ObjectNotFoundError } from '../../storage';
import type { FileStore } from '../../storage';
import { GcsFileStore } from '../../storage/gcs-file-store';
import { LocalFileStore } from '../../storage/local-file-store';
import { startFakeGcs } from '../helpers/fake-gcs';
import type { FakeGcs } from '../helpers/fake-gcs';

async function text(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of stream) parts.push(p as Buffer);
  return Buffer.concat(parts).toString();
}

jest.setTimeout(30_000);

let gcs: FakeGcs;
beforeAll(async () => {
  gcs = await startFakeGcs();
});
afterAll(() => gcs.stop());

const adapters: [string, () => Promise<{ store: FileStore; cleanup: () => Promise<void> }>][] = [
  [
    'LocalFileStore',
    async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'store-'));
      return { store: new LocalFileStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
    },
  ],
  [
    'GcsFileStore (fake-gcs-server)',
    async () => {
      const bucket = `test-${randomBytes(4).toString('hex')}`;
      await gcs.createBucket(bucket);
      const store = new GcsFileStore({ bucket, prefix: 'pre/fix', apiEndpoint: gcs.url, projectId: 'test' });
      return { store, cleanup: () => Promise.resolve() };
    },
  ],
];

describe('LocalFileStore', () => {
  it('removes what writes of dead processes left, and old files of others, never a live write', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'store-'));
    const store = new LocalFileStore(dir);
    await store.write('a', 'x');
    const tmp = path.join(dir, '.tmp');
    const [own] = await readdir(tmp);
    // A process of this machine that is gone (no pid is this large), one that lives (this one), another host.
    const dead = `${os.hostname()}~4194304999~dead`;
    const alive = `${os.hostname()}~${process.pid}~other`;
    const foreign = 'another-host~123~abcd';
    for (const folder of [dead, alive, foreign]) {
      await mkdir(path.join(tmp, folder));
      await writeFile(path.join(tmp, folder, 'fresh'), 'partial');
    }
    await writeFile(path.join(tmp, foreign, 'old'), 'partial');
    const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
    await utimes(path.join(tmp, foreign, 'old'), hourAgo, hourAgo);
    await writeFile(path.join(tmp, 'old-layout-file'), 'partial');
    await utimes(path.join(tmp, 'old-layout-file'), hourAgo, hourAgo);

    expect((await store.removeAbandoned()).sort()).toEqual([dead, `${foreign}/old`, 'old-layout-file'].sort());
    expect((await readdir(tmp)).sort()).toEqual([alive, foreign, own].sort());
    expect(await readdir(path.join(tmp, foreign))).toEqual(['fresh']);
    expect(await store.removeAbandoned()).toEqual([]);
    expect((await store.read('a'))?.toString()).toBe('x');
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves no temporary file behind a failed write', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'store-'));
    const store = new LocalFileStore(dir);
    const failing = new Readable({
      read() {
        this.destroy(new Error('boom'));
      },
    });
    await expect(store.write('broken', failing)).rejects.toThrow('boom');
    // The process's own temporary folder is all that is left, and it is empty.
    const folders = await readdir(path.join(dir, '.tmp'));
    expect(folders).toHaveLength(1);
    expect(await readdir(path.join(dir, '.tmp', folders[0]))).toEqual([]);
    await expect(store.read('.tmp/x')).rejects.toThrow(/Invalid storage key/);
    await rm(dir, { recursive: true, force: true });
  });
});

describe.each(adapters)('%s', (_name, make) => {
  let store: FileStore;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ store, cleanup } = await make());
  });
  afterEach(() => cleanup());

  it('writes strings, buffers and streams and reads them back', async () => {
    expect(await store.write('a/b/one', 'hello')).toBe(5);
    expect(await store.write('a/b/two', Buffer.from('bytes'))).toBe(5);
    expect(await store.write('a/three', Readable.from([Buffer.from('str'), Buffer.from('eam')]))).toBe(6);
    expect((await store.read('a/b/one'))?.toString()).toBe('hello');
    expect(await text(await store.createReadStream('a/three'))).toBe('stream');
    expect(await store.stat('a/b/two')).toEqual({ size: 5 });
    expect(await store.read('missing')).toBeNull();
    expect(await store.stat('missing')).toBeNull();
  });

  it('reads byte ranges', async () => {
    await store.write('f', '0123456789');
    expect(await text(await store.createReadStream('f', { start: 2, end: 5 }))).toBe('234');
    expect(await text(await store.createReadStream('f', { start: 7 }))).toBe('789');
    expect(await text(await store.createReadStream('f', { start: 4, end: 4 }))).toBe('');
  });

  it('throws ObjectNotFoundError when opening a missing object', async () => {
    await expect(store.createReadStream('nope')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('writes only if absent when asked', async () => {
    expect(await store.write('k', 'first', { ifAbsent: true })).toBe(5);
    expect(await store.write('k', 'second', { ifAbsent: true })).toBe(false);
    expect((await store.read('k'))?.toString()).toBe('first');
  });

  it('leaves nothing behind when the source stream fails', async () => {
    const failing = new Readable({
      read() {
        this.push('partial');
        this.destroy(new Error('boom'));
      },
    });
    await expect(store.write('broken', failing)).rejects.toThrow('boom');
    expect(await store.stat('broken')).toBeNull();
    expect(await store.list('')).toEqual([]);
  });

  it('lists keys under a prefix in byte order, after a key, up to a limit', async () => {
    for (const k of ['idx/b', 'idx/a', 'idx/c/d', 'idx2/x', 'other']) await store.write(k, '');
    expect(await store.list('idx/')).toEqual(['idx/a', 'idx/b', 'idx/c/d']);
    expect(await store.list('idx/', { startAfter: 'idx/a', limit: 1 })).toEqual(['idx/b']);
    expect(await store.list('idx')).toEqual(['idx/a', 'idx/b', 'idx/c/d', 'idx2/x']);
    expect(await store.list('nothing/')).toEqual([]);
  });

  it('concatenates objects in order', async () => {
    await store.write('p/1', 'ab');
    await store.write('p/2', 'cd');
    expect(await store.concat(['p/2', 'p/1'], 'joined')).toBe(4);
    expect((await store.read('joined'))?.toString()).toBe('cdab');
    await expect(store.concat(['p/1', 'p/9'], 'x')).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('deletes objects and prefixes', async () => {
    await store.write('d/1', 'x');
    await store.write('d/2', 'x');
    await store.write('keep', 'x');
    await store.delete('keep-missing');
    await store.deletePrefix('d/');
    expect(await store.list('')).toEqual(['keep']);
  });

  it('refuses keys that could leave its place', async () => {
    await expect(store.write('../escape', 'x')).rejects.toThrow(/Invalid storage key/);
    await expect(store.read('a//b')).rejects.toThrow(/Invalid storage key/);
  });

  it('concatenates more parts than one compose request takes', async () => {
    const parts = Array.from({ length: 70 }, (_, i) => `many/${String(i).padStart(3, '0')}`);
    await Promise.all(parts.map((k, i) => store.write(k, `${i},`)));
    const bytes = await store.concat(parts, 'many-joined');
    const expected = parts.map((_, i) => `${i},`).join('');
    expect(bytes).toBe(expected.length);
    expect((await store.read('many-joined'))?.toString()).toBe(expected);
    expect(await store.list('many-joined')).toEqual(['many-joined']);
  });

  it('concatenates large and small parts in order', async () => {
    // Parts of several MiB between small ones: a store may read small parts ahead and stream large ones.
    const parts = [randomBytes(10), randomBytes(5 * 1024 * 1024 + 3), randomBytes(1000), randomBytes(6 * 1024 * 1024)];
    parts.push(...Array.from({ length: 6 }, (_, i) => randomBytes(100 + i)));
    const keys = parts.map((_, i) => `mixed/${i}`);
    await Promise.all(parts.map((p, i) => store.write(keys[i], p)));
    const expected = Buffer.concat(parts);
    expect(await store.concat(keys, 'mixed-joined')).toBe(expected.length);
    expect((await store.read('mixed-joined'))?.equals(expected)).toBe(true);
  });

  it('streams a large object in and reads a range of it', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024, 'a');
    big.write('MARK', 5_000_000);
    expect(await store.write('big', Readable.from([big.subarray(0, 4_000_000), big.subarray(4_000_000)]))).toBe(
      big.length,
    );
    expect(await store.stat('big')).toEqual({ size: big.length });
    expect(await text(await store.createReadStream('big', { start: 5_000_000, end: 5_000_004 }))).toBe('MARK');
  });

  it('keeps a stream that fails at once from leaving anything', async () => {
    const source = new PassThrough();
    const writing = store.write('early', source);
    source.destroy(new Error('failed at once'));
    await expect(writing).rejects.toThrow('failed at once');
    expect(await store.stat('early')).toBeNull();
  });
});
