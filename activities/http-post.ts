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
  /** Longest wait for the response headers, and for each piece of its body. */
  timeoutMs: number;
}

/**
 * One POST through undici's dispatcher API, collecting the body as text. `undici.request()` would wrap the
 * response in a Readable stream and an AsyncResource per request; on the hot path of a batch those cost
 * more than the HTTP itself, so this hands the chunks straight to a buffer list.
 */
export function post(dispatcher: Dispatcher, url: URL, options: PostOptions): Promise<PostResponse> {
  return new Promise((resolve, reject) => {
    const { stopper } = options;
    let controller: Dispatcher.DispatchController | null = null;
    let statusCode = 0;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    if (stopper.stopped) {
      reject(stopError(stopper));
      return;
    }
    const done = stopper.onStop(() => controller?.abort(stopError(stopper)));
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
        },
        onResponseStart(_c, status, responseHeaders) {
          statusCode = status;
          headers = responseHeaders;
        },
        onResponseData(_c, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          done();
          resolve({ statusCode, headers, bodyText: Buffer.concat(chunks).toString('utf8') });
        },
        onResponseError(_c, err) {
          done();
          reject(err);
        },
      },
    );
  });
}

function stopError(stopper: Stopper): Error {
  return stopper.reason ?? new Error('This operation was stopped');
}
