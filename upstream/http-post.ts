import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Stopper } from './stopper';

export interface PostResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  bodyText: string;
}

export interface PostOptions {
  headers: Record<string, string>;
  body: string;
  stopper: Stopper;
  /** Deadline of the whole request, from sending to the last byte of the answer. */
  timeoutMs: number;
  /** Largest answer body accepted; a longer one is cut off with {@link ResponseTooLargeError}. */
  maxResponseBytes: number;
}

/** The request ran longer than its deadline (a server that never answers, or drips its body). */
export class RequestTimeoutError extends Error {
  readonly name = 'TimeoutError';
  constructor(timeoutMs: number) {
    super(`No complete answer within ${timeoutMs} ms`);
  }
}

/** The answer's body grew past the limit; it is not read further. */
export class ResponseTooLargeError extends Error {
  readonly name = 'ResponseTooLargeError';
  constructor(readonly limit: number) {
    super(`The answer is larger than ${limit} bytes`);
  }
}

/**
 * One POST through undici's dispatcher API, collecting the body as text. `undici.request()` would wrap the
 * response in a Readable stream and an AsyncResource per request; on the hot path of a batch those cost
 * more than the HTTP itself, so this hands the chunks straight to a buffer list.
 *
 * undici's own timeouts restart on every byte, so one timer bounds the whole request.
 */
export function post(dispatcher: Dispatcher, url: URL, options: PostOptions): Promise<PostResponse> {
  return new Promise((resolve, reject) => {
    const { stopper } = options;
    let controller: Dispatcher.DispatchController | null = null;
    let statusCode = 0;
    let headers: IncomingHttpHeaders = {};
    let bytes = 0;
    const chunks: Buffer[] = [];
    if (stopper.stopped) {
      reject(stopError(stopper));
      return;
    }
    let settled = false;
    const abort = (err: Error) => {
      if (controller !== null) controller.abort(err);
      else fail(err);
    };
    const done = stopper.onStop(() => abort(stopError(stopper)));
    const timer = setTimeout(() => abort(new RequestTimeoutError(options.timeoutMs)), options.timeoutMs);
    const finish = () => {
      settled = true;
      clearTimeout(timer);
      done();
    };
    const fail = (err: Error) => {
      if (settled) return;
      finish();
      reject(err);
    };
    dispatcher.dispatch(
      {
        origin: url.origin,
        path: url.pathname + url.search,
        method: 'POST',
        headers: options.headers,
        body: options.body,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      },
      {
        onRequestStart(c) {
          controller = c;
          if (stopper.stopped) c.abort(stopError(stopper));
          else if (settled) c.abort(new RequestTimeoutError(options.timeoutMs));
        },
        onResponseStart(_c, status, responseHeaders) {
          statusCode = status;
          headers = responseHeaders;
        },
        onResponseData(c, chunk) {
          bytes += chunk.length;
          if (bytes > options.maxResponseBytes) {
            c.abort(new ResponseTooLargeError(options.maxResponseBytes));
            return;
          }
          chunks.push(chunk);
        },
        onResponseEnd() {
          if (settled) return;
          finish();
          resolve({ statusCode, headers, bodyText: Buffer.concat(chunks).toString('utf8') });
        },
        onResponseError(_c, err) {
          fail(err);
        },
      },
    );
  });
}

function stopError(stopper: Stopper): Error {
  return stopper.reason ?? new Error('This operation was stopped');
}
