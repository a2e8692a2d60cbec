/**
 * Pins the embedded Temporal dev server of `npm start`: it comes up with the Batch* search attributes
 * already registered (so the Web UI can filter before any API connects), and comes up again on the same
 * SQLite file with them still there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { startTemporalDevServer } from '../../standalone/temporal-dev-server';
import { BATCH_SEARCH_ATTRIBUTES } from '../../workflows/definitions';
import { freePort } from '../helpers/ports';

jest.setTimeout(120_000);

describe('the embedded dev server', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dev-server-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('registers the Batch* search attributes, and starts again on the same database', async () => {
    const { IndexedValueType } = temporal.api.enums.v1;
    const expected = Object.fromEntries(
      BATCH_SEARCH_ATTRIBUTES.map((k) => [
        k.name,
        {
          DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
          KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
          BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
        }[k.type],
      ]),
    );
    for (let run = 0; run < 2; run++) {
      const port = await freePort();
      const server = await startTemporalDevServer({
        cliPath: process.env.TEMPORAL_CLI_PATH ?? null,
        port,
        uiPort: null,
        namespace: 'default',
        dbFile: path.join(dir, 'temporal.db'),
      });
      try {
        const connection = await Connection.connect({ address: server.address });
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
        await connection.close();
        expect(customAttributes).toMatchObject(expected);
      } finally {
        await server.stop();
      }
    }
  });
});
