import { maxHeaderSize } from 'node:http';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { ApiConfig } from '../config';
import { Catalog, createFileStore, keepStoreTidy } from '../storage';
import type { Logger } from '../telemetry/logger';
import { createApiMetrics } from '../telemetry/metrics';
import type { Registry } from '../telemetry/metrics';
import { createApp } from './app';
import { DASHBOARD_DIR } from './dashboard-route';
import { connectTemporal } from './temporal-gateway';
import { ModelCatalog } from '../upstream/models';

export interface RunningApi {
  /** e.g. `http://localhost:8000`; the OpenAI base URL is this plus `/v1`. */
  url: string;
  port: number;
  /** Stops accepting connections, lets requests in flight finish, then closes the Temporal connection. */
  stop(): Promise<void>;
}

/** Connects to Temporal and storage and serves the API on `config.api.port`. */
export async function startApiServer(
  config: ApiConfig,
  temporalAddress: string,
  {
    logger,
    registry,
    dashboardDir = DASHBOARD_DIR,
  }: { logger: Logger; registry: Registry; /** The built dashboard (default: dist's). */ dashboardDir?: string | null },
): Promise<RunningApi> {
  const gateway = await connectTemporal({
    address: temporalAddress,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
  });
  if (!gateway.searchAttributes) {
    logger.warn(
      'The Batch* search attributes are not registered in the namespace and could not be added: batches run without them (see the README, "Operations")',
    );
  }
  const store = createFileStore(config.storage);
  await store.check();
  const stopTidying = keepStoreTidy(store, logger);
  const metrics = {
    registry,
    api: createApiMetrics(
      registry,
      gateway.searchAttributes ? () => gateway.countByStatus() : undefined,
      gateway.searchAttributes ? () => gateway.countAtRisk() : undefined,
    ),
  };
  const models = new ModelCatalog(config.upstream);
  const app = createApp({ catalog: new Catalog(store), gateway, config, logger, models, metrics, dashboardDir });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.api.port, () => resolve(s));
    s.once('error', reject);
  });
  server.on('clientError', answerClientError);
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  return {
    url: `http://localhost:${port}`,
    port,
    stop() {
      // Requests in flight (an upload, say) finish; idle keep-alive connections close at once, and a
      // connection that goes idle after its response is closed by Node as the server is closing.
      stopping ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        stopTidying();
        await gateway.close();
      })();
      return stopping;
    },
  };
}

/**
 * Requests Node rejects before Express sees them (headers over Node's 16 KiB limit, malformed HTTP) get
 * the error envelope too, instead of Node's bare status line.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify({
    error: {
      message: tooLarge
        ? `The request headers are larger than ${maxHeaderSize} bytes, the most this API reads.`
        : 'The request is not valid HTTP.',
      type: 'invalid_request_error',
      param: null,
      code: tooLarge ? 'headers_too_large' : null,
    },
  });
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-should-retry: false\r\nconnection: close\r\n\r\n${body}`,
  );
}
