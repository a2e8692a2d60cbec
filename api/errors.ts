/**
 * One class per error envelope the API emits. Each fixes the HTTP status, OpenAI's `error.type`, and
 * whether a client may retry (`x-should-retry`). Services throw these; only the error handler writes them.
 */
export abstract class ApiError extends Error {
  abstract readonly status: number;
  abstract readonly type: string;
  readonly retryable: boolean = false;
  /** Extra response headers, e.g. `retry-after`. */
  readonly headers: Record<string, string> = {};

  constructor(
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Thrown when the request itself is malformed or names an invalid value. */
export class BadRequestError extends ApiError {
  readonly status = 400;
  readonly type = 'invalid_request_error';
}

/** Thrown when the API key is missing or not one of `API_KEYS`. */
export class AuthenticationError extends ApiError {
  readonly status = 401;
  readonly type = 'invalid_request_error';
}

/** Thrown when a file or batch does not exist, or belongs to another tenant. */
export class NotFoundError extends ApiError {
  readonly status = 404;
  readonly type = 'invalid_request_error';
}

/** Thrown when a route exists but not for the request's method. */
export class MethodNotAllowedError extends ApiError {
  readonly status = 405;
  readonly type = 'invalid_request_error';
}

/** Thrown when the object's state forbids the operation, e.g. cancelling a completed batch. Final: never retried. */
export class ConflictError extends ApiError {
  readonly status = 409;
  readonly type = 'invalid_request_error';
}

/** Thrown when an upload or a JSON body is larger than allowed. */
export class PayloadTooLargeError extends ApiError {
  readonly status = 413;
  readonly type = 'invalid_request_error';
}

/** Thrown when a request body has a content type the route does not accept. */
export class UnsupportedMediaTypeError extends ApiError {
  readonly status = 415;
  readonly type = 'invalid_request_error';
}

/** Thrown when a client exceeds a rate limit. */
export class RateLimitError extends ApiError {
  readonly status = 429;
  readonly type = 'rate_limit_error';
  override readonly retryable = true;
}

/** Thrown for anything unexpected; the cause is logged, never sent. */
export class InternalServerError extends ApiError {
  readonly status = 500;
  readonly type = 'server_error';
  override readonly retryable = true;
}

/** Thrown when Temporal or storage cannot be reached right now. */
export class ServiceUnavailableError extends ApiError {
  readonly status = 503;
  readonly type = 'server_error';
  override readonly retryable = true;
}
