import type { BatchTenant } from '../common/batch';

/** What the API's middleware puts on `res.locals`, declared once for every handler. */
declare global {
  namespace Express {
    interface Locals {
      /** Set by the request logger on every request. */
      requestId: string;
      /** The tenant's name, set by the auth middleware on every `/v1` request. */
      owner: string;
      /** The tenant with its scheduling weight, set with `owner`. */
      tenant: BatchTenant;
      /** The batch a request is about, for the request log. */
      batchId?: string;
    }
  }
}

export {};
