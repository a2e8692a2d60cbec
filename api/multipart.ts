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
    const fields: Record<string, string> = {};
    let file: ReceivedUpload['file'] = null;
    let writing: Promise<number | false> | null = null;
    let tooLarge = false;
    let failed = false;
    let closed = false;
    let fileStream: Readable | null = null;
    let unterminated = false;

    const tooLargeError = () =>
      new PayloadTooLargeError(`File is too large. The maximum size is ${maxFileBytes} bytes.`, 'file');
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      // Keep draining the body (the parser discards what is left) so the client reads our answer instead of a
      // reset connection.
      void Promise.resolve(writing)
        .catch(() => undefined)
        .then(() => store.delete(key))
        .finally(() => reject(err));
    };

    parser.on('field', (name, value) => {
      fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      if (name !== 'file' || writing !== null) {
        stream.resume();
        return;
      }
      // Past the limit, refuse at once rather than when the body ends (busboy would only end the part at the
      // next boundary): stop storing, and read the rest of the body into the void so the client, still
      // sending, reads our 413 instead of a reset connection.
      stream.on('limit', () => {
        tooLarge = true;
        req.unpipe(parser);
        req.resume();
        stream.destroy(new Error('File too large'));
      });
      fileStream = stream;
      writing = store.write(key, stream);
      writing.then(
        (bytes) => {
          if (tooLarge) {
            fail(tooLargeError());
          } else {
            file = { filename: info.filename ?? 'file', bytes: bytes === false ? 0 : bytes };
          }
        },
        (err: unknown) =>
          fail(
            tooLarge
              ? tooLargeError()
              : unterminated
                ? new BadRequestError('Invalid multipart body: Unexpected end of form')
                : (err as Error),
          ),
      );
    });
    parser.on('error', (err: Error) => {
      req.unpipe(parser);
      req.resume();
      fail(new BadRequestError(`Invalid multipart body: ${err.message}`));
    });
    parser.on('close', () => {
      closed = true;
      void Promise.resolve(writing)
        .catch(() => undefined)
        .then(() => {
          if (!failed) resolve({ fields, file });
        });
    });
    req.on('end', () => {
      // busboy leaves a file part open for ever when the form's end boundary comes before it (it ignores the
      // rest but never ends the part). Once every byte was parsed, a file part that has nothing buffered and
      // has not ended, twice in a row, never will: that is malformed input, not a slow store.
      let suspect = 0;
      const timer = setInterval(() => {
        const stalled =
          parser.writableLength === 0 &&
          fileStream !== null &&
          !fileStream.readableEnded &&
          fileStream.readableLength === 0;
        suspect = stalled ? suspect + 1 : 0;
        if (failed || closed || suspect >= 2) clearInterval(timer);
        if (!failed && !closed && suspect >= 2) {
          unterminated = true;
          fileStream?.destroy(new Error('Unexpected end of form'));
        }
      }, 100);
      timer.unref();
    });
    req.on('close', () => {
      if (!req.complete) fail(new BadRequestError('The upload was aborted before it completed.'));
    });
    req.pipe(parser);
  });
}
