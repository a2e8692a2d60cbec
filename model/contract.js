'use strict';
/**
 * What the launcher, the API and the tests need to know about the embedded model server
 * (`model/server.mjs`), in CommonJS so that `scripts/launch.js` and the TypeScript build can require it.
 */

/** The id the server lists in `/v1/models` and writes as `model` in every response. */
const MODEL_ID = 'SmolLM2-135M-Instruct';

/** The port when `EMBEDDED_MODEL_PORT` is unset; the server only ever binds 127.0.0.1. */
const DEFAULT_PORT = 8090;

/** The one line the server prints on stdout, once it listens; everything else it says goes to stderr. */
function readyLine(baseUrl) {
  return `Embedded model ${MODEL_ID} ready at ${baseUrl}`;
}

/** Matches {@link readyLine}; group 1 is the base URL with `/v1`, as `UPSTREAM_BASE_URL` takes it. */
const READY_LINE_PATTERN = /^Embedded model \S+ ready at (http:\/\/\S+\/v1)$/m;

module.exports = { MODEL_ID, DEFAULT_PORT, readyLine, READY_LINE_PATTERN };
