/** Pins the FileStore contract on the local-disk adapter: whole-or-nothing writes, ranges, ordered listing. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { LocalFileStore } from '../../../storage/local-file-store';
import { ObjectNotFoundError } from '../../../storage';

async function text(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of stream) parts.push(p as Buffer);
  return Buffer.concat(parts).toString();
}

describe('LocalFileStore', () => {
  let dir: string;
  let store: LocalFileStore;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'store-'));
    store = new LocalFileStore(dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

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
    expect(await readdir(path.join(dir, '.tmp'))).toEqual([]);
  });

  it('reports a stream that fails before writing starts, without crashing', async () => {
    const source = new PassThrough();
    const writing = store.write('early', source);
    source.destroy(new Error('failed at once'));
    await expect(writing).rejects.toThrow('failed at once');
    expect(await store.stat('early')).toBeNull();
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

  it('refuses keys that could leave its directory', async () => {
    await expect(store.write('../escape', 'x')).rejects.toThrow(/Invalid storage key/);
    await expect(store.read('a//b')).rejects.toThrow(/Invalid storage key/);
    await expect(store.read('.tmp/x')).rejects.toThrow(/Invalid storage key/);
  });
});
