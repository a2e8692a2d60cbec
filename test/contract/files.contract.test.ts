/**
 * Pins the Files API as the official `openai` npm client uses it: upload (multipart, bracketed
 * `expires_after`), retrieve, list with cursors, raw content, delete, and errors in OpenAI's envelope.
 */
import OpenAI, { toFile } from 'openai';
import { startTestStack } from '../helpers/stack';
import type { TestStack } from '../helpers/stack';

jest.setTimeout(60_000);

describe('Files API', () => {
  let stack: TestStack;
  let client: OpenAI;
  beforeAll(async () => {
    stack = await startTestStack({ env: { BATCH_MAX_FILE_BYTES: '4096' } });
    client = stack.client;
  });
  afterAll(() => stack.stop());

  const upload = async (content: string, name = 'in.jsonl', purpose: 'batch' | 'user_data' = 'batch') =>
    client.files.create({ file: await toFile(Buffer.from(content), name), purpose });

  it('uploads a file and returns the full File object', async () => {
    const { data: file, response } = await client.files
      .create({ file: await toFile(Buffer.from('{"a":1}\n'), 'requests.jsonl'), purpose: 'batch' })
      .withResponse();
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(file).toEqual({
      id: expect.stringMatching(/^file-/),
      object: 'file',
      bytes: 8,
      created_at: expect.any(Number),
      expires_at: file.created_at + 30 * 24 * 3600,
      filename: 'requests.jsonl',
      purpose: 'batch',
      status: 'processed',
      status_details: null,
    });
    expect(Number.isInteger(file.created_at)).toBe(true);
    expect(await client.files.retrieve(file.id)).toEqual(file);
  });

  it('honours expires_after sent as bracketed multipart fields', async () => {
    const file = await client.files.create({
      file: await toFile(Buffer.from('x'), 'notes.txt'),
      purpose: 'user_data',
      expires_after: { anchor: 'created_at', seconds: 3600 },
    });
    expect(file.expires_at).toBe(file.created_at + 3600);
    const forever = await upload('x', 'notes.txt', 'user_data');
    expect(forever.expires_at).toBeNull();
  });

  it('returns the raw bytes of a file, whatever the Accept header', async () => {
    const content = '{"custom_id":"é"}\n{"custom_id":"2"}\n';
    const file = await upload(content);
    const res = await client.files.content(file.id);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(await res.text()).toBe(content);
    const raw = await fetch(`${stack.api.url}/v1/files/${file.id}/content`, {
      headers: { accept: 'application/json' },
    });
    expect(raw.status).toBe(200);
    expect(await raw.text()).toBe(content);
  });

  it('keeps a non-ASCII filename and serves its content', async () => {
    const file = await upload('{"x":1}\n', 'données 🚀.jsonl');
    expect(file.filename).toBe('données 🚀.jsonl');
    const res = await client.files.content(file.id);
    expect(res.headers.get('content-disposition')).toContain("filename*=UTF-8''donn%C3%A9es%20%F0%9F%9A%80.jsonl");
    expect(await res.text()).toBe('{"x":1}\n');
  });

  it('lists files newest first by default, ascending on request, and pages with after', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await upload(`{"n":${i}}`, `page-${i}.jsonl`)).id);
    const desc = await client.files.list({ purpose: 'batch' });
    const descIds = desc.data.map((f) => f.id);
    expect(descIds.indexOf(ids[2])).toBeLessThan(descIds.indexOf(ids[0]));

    const firstPage = await client.files.list({ order: 'asc', limit: 2 });
    expect(firstPage.data).toHaveLength(2);
    expect(firstPage.has_more).toBe(true);
    const all: string[] = [];
    for await (const f of client.files.list({ order: 'asc', limit: 2 })) all.push(f.id);
    expect(all.slice(-3)).toEqual(ids);
    expect(new Set(all).size).toBe(all.length);

    const after = await fetch(`${stack.api.url}/v1/files?order=asc&after=${all[all.length - 1]}`);
    expect(await after.json()).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
  });

  it('deletes a file', async () => {
    const file = await upload('{}');
    expect(await client.files.delete(file.id)).toEqual({ id: file.id, object: 'file', deleted: true });
    await expect(client.files.retrieve(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.files.content(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.files.delete(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('refuses a batch file that is not .jsonl', async () => {
    const err = await upload('{}', 'requests.csv').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).error).toEqual({
      message: 'Invalid file format for Batch API. Must be .jsonl',
      type: 'invalid_request_error',
      param: 'file',
      code: null,
    });
  });

  it('refuses an unknown purpose with the supported values', async () => {
    const err = await client.files
      .create({ file: await toFile(Buffer.from('x'), 'a.jsonl'), purpose: 'nonsense' as 'batch' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('purpose');
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('invalid_value');
  });

  it('refuses a file over BATCH_MAX_FILE_BYTES with 413 and keeps nothing', async () => {
    const before = (await client.files.list()).data.length;
    const err = await upload('x'.repeat(5000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect((await client.files.list()).data.length).toBe(before);
  });

  it('answers a missing file with 404 in the envelope', async () => {
    const err = await client.files.retrieve('file-nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({ type: 'invalid_request_error' });
  });

  it('answers a malformed multipart body with a 400 envelope', async () => {
    const res = await fetch(`${stack.api.url}/v1/files`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=XYZ' },
      body: '--XYZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{}',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
    const missing = await fetch(`${stack.api.url}/v1/files`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data' },
      body: 'x',
    });
    expect(missing.status).toBe(400);
  });

  it('requires the file and the purpose', async () => {
    const form = new FormData();
    form.append('purpose', 'batch');
    const noFile = await fetch(`${stack.api.url}/v1/files`, { method: 'POST', body: form });
    expect(noFile.status).toBe(400);
    expect(((await noFile.json()) as { error: unknown }).error).toMatchObject({
      param: 'file',
      code: 'missing_required_parameter',
    });
    const noPurpose = new FormData();
    noPurpose.append('file', new Blob(['{}']), 'a.jsonl');
    const res = await fetch(`${stack.api.url}/v1/files`, { method: 'POST', body: noPurpose });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({
      param: 'purpose',
      code: 'missing_required_parameter',
    });
  });

  it('answers a non-multipart upload with an envelope', async () => {
    const res = await fetch(`${stack.api.url}/v1/files`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(415);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unsupported_content_type');
  });
});
