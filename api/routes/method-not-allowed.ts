import type { RequestHandler } from 'express';
import { MethodNotAllowedError } from '../errors';

/** The last handler of every route: any other method gets the envelope, not Express's HTML. */
export const methodNotAllowed: RequestHandler = (req) => {
  throw new MethodNotAllowedError(`Method ${req.method} is not allowed on ${req.path}.`);
};
