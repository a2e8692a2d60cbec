/** What the API's middleware puts on `res.locals`, declared once for every handler. */
declare global {
  namespace Express {
    interface Locals {
      /** Set by the request logger on every request. */
      requestId: string;
      /** The tenant, set by the auth middleware on every `/v1` request. */
      owner: string;
      /** The batch a request is about, for the request log. */
      batchId?: string;
    }
  }
}

export {};
