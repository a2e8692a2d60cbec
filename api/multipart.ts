import type { Readable } from 'node:stream';
import type { Request } from 'express';
import busboy from 'busboy';
import type { FileStore } from '../storage';
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors';

export interface ReceivedUpload {
  /** Text fields, by name; repeated names keep the last value. */
  fields: Record<string, string>;
  /** The `file` part, streamed into the store; null when the form had none. */
  file: { filename: string; bytes: number } | null;
}

const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 64 * 1024;

/**
 * Streams a `multipart/form-data` upload: text fields are collected, the part named `file` goes straight
 * into storage at `key`, never whole in memory. Past `maxFileBytes` the upload is refused with 413 and
 * nothing is left in storage.
 */
export function receiveUpload(
  req: Request,
  { store, key, maxFileBytes }: { store: FileStore; key: string; maxFileBytes: number },
): Promise<ReceivedUpload> {
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data/i.test(contentType)) {
    return Promise.reject(
      new UnsupportedMediaTypeError(
        `Unsupported content type: '${contentType || '(none)'}'. This API method only accepts 'multipart/form-data' requests.`,
        null,
        'unsupported_content_type',
      ),
    );
  }
  return new Promise<ReceivedUpload>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        // Clients send UTF-8 filenames; busboy's default for header parameters is Latin-1.
        defParamCharset: 'utf8',
        limits: { fileSize: maxFileBytes, files: 1, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES },
      });
    } catch (err) {
      reject(new BadRequestError(`Invalid multipart body: ${(err as Error).message}`));
      return;
    }
    new UploadReceiver(req, parser, { store, key, maxFileBytes }, resolve, reject).start();
  });
}

/** One upload in progress: what the parser has delivered so far, and how the upload ends (once). */
class UploadReceiver {
  private readonly fields: Record<string, string> = {};
  private file: ReceivedUpload['file'] = null;
  private writing: Promise<number | false> | null = null;
  private tooLarge = false;
  private failed = false;
  private closed = false;
  private fileStream: Readable | null = null;
  private unterminated = false;

  constructor(
    private readonly req: Request,
    private readonly parser: busboy.Busboy,
    private readonly target: { store: FileStore; key: string; maxFileBytes: number },
    private readonly resolve: (upload: ReceivedUpload) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  /** Listens to the parser and the request, and starts feeding the body to the parser. */
  start(): void {
    const { req, parser } = this;
    parser.on('field', (name, value) => {
      this.fields[name] = value;
    });
    parser.on('file', (name, stream, info) => this.onFile(name, stream, info));
    parser.on('error', (err: Error) => this.onError(err));
    parser.on('close', () => this.onClose());
    req.on('end', () => this.watchForUnterminatedPart());
    req.on('close', () => {
      if (!req.complete) this.fail(new BadRequestError('The upload was aborted before it completed.'));
    });
    req.pipe(parser);
  }

  private onFile(name: string, stream: Readable, info: busboy.FileInfo): void {
    if (name !== 'file' || this.writing !== null) {
      stream.resume();
      return;
    }
    // Past the limit, refuse at once rather than when the body ends (busboy would only end the part at the
    // next boundary): stop storing, and read the rest of the body into the void so the client, still
    // sending, reads our 413 instead of a reset connection.
    stream.on('limit', () => {
      this.tooLarge = true;
      this.req.unpipe(this.parser);
      this.req.resume();
      stream.destroy(new Error('File too large'));
    });
    this.fileStream = stream;
    const writing = this.target.store.write(this.target.key, stream);
    this.writing = writing;
    writing.then(
      (bytes) => {
        if (this.tooLarge) {
          this.fail(this.tooLargeError());
        } else {
          this.file = { filename: info.filename ?? 'file', bytes: bytes === false ? 0 : bytes };
        }
      },
      (err: unknown) =>
        this.fail(
          this.tooLarge
            ? this.tooLargeError()
            : this.unterminated
              ? new BadRequestError('Invalid multipart body: Unexpected end of form')
              : (err as Error),
        ),
    );
  }

  private onError(err: Error): void {
    this.req.unpipe(this.parser);
    this.req.resume();
    this.fail(new BadRequestError(`Invalid multipart body: ${err.message}`));
  }

  private onClose(): void {
    this.closed = true;
    void Promise.resolve(this.writing)
      .catch(() => undefined)
      .then(() => {
        if (!this.failed) this.resolve({ fields: this.fields, file: this.file });
      });
  }

  private watchForUnterminatedPart(): void {
    // busboy leaves a file part open for ever when the form's end boundary comes before it (it ignores the
    // rest but never ends the part). Once every byte was parsed, a file part that has nothing buffered and
    // has not ended, twice in a row, never will: that is malformed input, not a slow store.
    let suspect = 0;
    const timer = setInterval(() => {
      const stalled =
        this.parser.writableLength === 0 &&
        this.fileStream !== null &&
        !this.fileStream.readableEnded &&
        this.fileStream.readableLength === 0;
      suspect = stalled ? suspect + 1 : 0;
      if (this.failed || this.closed || suspect >= 2) clearInterval(timer);
      if (!this.failed && !this.closed && suspect >= 2) {
        this.unterminated = true;
        this.fileStream?.destroy(new Error('Unexpected end of form'));
      }
    }, 100);
    timer.unref();
  }

  private tooLargeError(): PayloadTooLargeError {
    return new PayloadTooLargeError(
      `File is too large. The maximum size is ${this.target.maxFileBytes} bytes.`,
      'file',
    );
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    // Keep draining the body (the parser discards what is left) so the client reads our answer instead of a
    // reset connection.
    void Promise.resolve(this.writing)
      .catch(() => undefined)
      .then(() => this.target.store.delete(this.target.key))
      .finally(() => this.reject(err));
  }
}
