import type { ErrorRequestHandler } from 'express';
import { ZodError } from 'zod';
import type { core } from 'zod';
import type { Logger } from '../telemetry/logger';
import {
  ApiError,
  BadRequestError,
  InternalServerError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from './errors';

export interface ErrorHandlerDeps {
  logger: Logger;
}

/**
 * The one place an error becomes an HTTP response: always OpenAI's envelope
 * `{error: {message, type, param, code}}` as `application/json`, with `x-should-retry`.
 */
export function createErrorHandler({ logger }: ErrorHandlerDeps): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const apiError = toApiError(err);
    if (apiError instanceof InternalServerError) {
      logger.error(
        {
          request_id: res.locals.requestId,
          method: req.method,
          path: req.path,
          err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err),
        },
        'unhandled error',
      );
    }
    if (res.headersSent) {
      // A streamed body failed half-way: the status is gone, only cutting the connection tells the client.
      res.destroy();
      return;
    }
    res.status(apiError.status);
    res.setHeader('x-should-retry', String(apiError.retryable));
    for (const [name, value] of Object.entries(apiError.headers)) res.setHeader(name, value);
    res.json({
      error: { message: apiError.message, type: apiError.type, param: apiError.param, code: apiError.code },
    });
  };
}

/** Maps anything thrown to an {@link ApiError}: ours as they are, zod issues and body-parser errors as 4xx. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ZodError) return fromZodIssue(err.issues[0]);
  const e = err as { type?: string; status?: number; expose?: boolean; message?: string };
  switch (e.type) {
    case 'entity.parse.failed':
      return new BadRequestError(
        'We could not parse the JSON body of your request. The API expects a JSON payload, but what was sent was not valid JSON.',
      );
    case 'entity.too.large':
      return new PayloadTooLargeError('The request body is too large.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new UnsupportedMediaTypeError(e.message ?? 'Unsupported request encoding.');
    case 'request.aborted':
    case 'stream.not.readable':
      return new BadRequestError('The request body was not received completely.');
  }
  // Express and its parsers mark the client's mistakes with a 4xx status (a URL that does not decode, say).
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new BadRequestError(e.expose || err instanceof URIError ? (e.message ?? 'Bad request.') : 'Bad request.');
  }
  return new InternalServerError('The server had an error while processing your request.');
}

/** Words a zod issue the way OpenAI words the same mistake. */
function fromZodIssue(issue: core.$ZodIssue | undefined): ApiError {
  if (issue === undefined) return new BadRequestError('Invalid request.');
  const param = issue.path.length > 0 ? issue.path.map(String).join('.') : null;
  const name = param ?? 'body';
  const input = (issue as { input?: unknown }).input;
  if ((issue.code === 'invalid_type' || issue.code === 'invalid_value') && input === undefined) {
    return new BadRequestError(`Missing required parameter: '${name}'.`, param, 'missing_required_parameter');
  }
  switch (issue.code) {
    case 'invalid_type':
      return new BadRequestError(
        `Invalid type for '${name}': expected ${article(issue.expected)}, but got ${article(typeName(input))} instead.`,
        param,
        'invalid_type',
      );
    case 'invalid_value':
      return new BadRequestError(
        `Invalid value: '${String(input)}'. Supported values are: ${listValues(issue.values)}.`,
        param,
        'invalid_value',
      );
    case 'too_big':
      if (issue.origin === 'string') {
        return new BadRequestError(
          `Invalid '${name}': string too long. Expected a string with maximum length ${issue.maximum}, but got a string with length ${String(input).length} instead.`,
          param,
          'string_above_max_length',
        );
      }
      return new BadRequestError(
        `Invalid '${name}': ${issue.origin === 'number' || issue.origin === 'int' ? 'value' : 'size'} above maximum. Expected at most ${issue.maximum}, but got ${sizeOf(input)} instead.`,
        param,
        issue.origin === 'number' || issue.origin === 'int' ? 'integer_above_max_value' : 'above_max_size',
      );
    case 'too_small':
      if (issue.origin === 'string') {
        return new BadRequestError(
          `Invalid '${name}': string too short. Expected a string with minimum length ${issue.minimum}, but got a string with length ${String(input).length} instead.`,
          param,
          'string_below_min_length',
        );
      }
      return new BadRequestError(
        `Invalid '${name}': value below minimum. Expected at least ${issue.minimum}, but got ${sizeOf(input)} instead.`,
        param,
        'integer_below_min_value',
      );
    case 'invalid_key': {
      const inner = issue.issues[0];
      if (inner?.code === 'too_big') {
        return new BadRequestError(
          `Invalid '${name}': key too long. Expected a key with maximum length ${inner.maximum}, but got a key with length ${String(input).length} instead.`,
          param,
          'string_above_max_length',
        );
      }
      return new BadRequestError(`Invalid key '${String(input)}' in '${name}'.`, param, 'invalid_value');
    }
    case 'custom': {
      const code = (issue.params as { code?: string } | undefined)?.code ?? 'invalid_value';
      return new BadRequestError(issue.message, param, code);
    }
    default:
      return new BadRequestError(`Invalid '${name}': ${issue.message}.`, param, 'invalid_value');
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'decimal';
  return typeof value;
}

function article(type: string): string {
  if (type === 'null') return 'null';
  if (type === 'int') type = 'integer';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function listValues(values: readonly unknown[]): string {
  const quoted = values.map((v) => `'${String(v)}'`);
  if (quoted.length <= 1) return quoted.join('');
  return `${quoted.slice(0, -1).join(', ')}${quoted.length > 2 ? ',' : ''} and ${quoted[quoted.length - 1]}`;
}

function sizeOf(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `${value.length} items`;
  if (value !== null && typeof value === 'object') return `${Object.keys(value).length} properties`;
  return String(value);
}
