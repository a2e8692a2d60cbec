/** The id the server lists in `/v1/models` and writes as `model` in every response. */
export declare const MODEL_ID: string;
/** The port when `EMBEDDED_MODEL_PORT` is unset; the server only ever binds 127.0.0.1. */
export declare const DEFAULT_PORT: number;
/** The one line the server prints on stdout, once it listens. */
export declare function readyLine(baseUrl: string): string;
/** Matches {@link readyLine}; group 1 is the base URL with `/v1`, as `UPSTREAM_BASE_URL` takes it. */
export declare const READY_LINE_PATTERN: RegExp;
