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
    if (stopper.stopped) {
      reject(stopError(stopper));
      return;
    }
    const handler = new PostHandler(options, resolve, reject);
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
      handler,
    );
  });
}

/**
 * One request's answer as undici delivers it, and its end: the answer, its deadline or a stop, whichever
 * comes first. Its methods are on the prototype, so a request allocates no handler closures.
 */
class PostHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private statusCode = 0;
  private headers: IncomingHttpHeaders = {};
  private bytes = 0;
  private readonly chunks: Buffer[] = [];
  private settled = false;
  private readonly done: () => void;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly options: PostOptions,
    private readonly resolve: (response: PostResponse) => void,
    private readonly reject: (err: Error) => void,
  ) {
    const { stopper } = options;
    this.done = stopper.onStop(() => this.abort(stopError(stopper)));
    this.timer = setTimeout(() => this.abort(new RequestTimeoutError(options.timeoutMs)), options.timeoutMs);
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.controller = c;
    if (this.options.stopper.stopped) c.abort(stopError(this.options.stopper));
    else if (this.settled) c.abort(new RequestTimeoutError(this.options.timeoutMs));
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, responseHeaders: IncomingHttpHeaders): void {
    this.statusCode = status;
    this.headers = responseHeaders;
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > this.options.maxResponseBytes) {
      c.abort(new ResponseTooLargeError(this.options.maxResponseBytes));
      return;
    }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.finish();
    this.resolve({
      statusCode: this.statusCode,
      headers: this.headers,
      bodyText: Buffer.concat(this.chunks).toString('utf8'),
    });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  private abort(err: Error): void {
    if (this.controller !== null) this.controller.abort(err);
    else this.fail(err);
  }

  private finish(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.done();
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.finish();
    this.reject(err);
  }
}

function stopError(stopper: Stopper): Error {
  return stopper.reason ?? new Error('This operation was stopped');
}
