/**
 * Pins docker-compose.yml and the Dockerfile to the code's contracts, since no Docker engine runs here:
 * the file parses; the api and worker environments load with the real config parser and point at the
 * services, ports and bucket the file defines; healthchecks hit the ports the config opens; the Dockerfile
 * builds every source folder; and the one-shot setup scripts run for real, the Temporal one against the
 * test dev server with the temporal CLI and the GCS one against fake-gcs-server with the compose's flags.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { parse } from 'yaml';
import { describeVariables, loadConfig } from '../../config';
import { FAIRNESS_DYNAMIC_CONFIG, findTemporalCli } from '../../standalone/temporal-dev-server';
import { BATCH_SEARCH_ATTRIBUTES } from '../../workflows/definitions';
import { fakeGcsBinary } from '../helpers/fake-gcs';
import { freePort } from '../helpers/ports';
import { testTemporal } from '../helpers/stack';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number | boolean>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  configs?: { source: string; target: string }[];
}
interface Compose {
  services: Record<string, Service>;
  configs?: Record<string, { content: string }>;
  volumes?: Record<string, unknown>;
}

/** Compose's interpolation of `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `${VAR:?message}`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg = '') => {
    const set = env[name];
    if (op === ':?' && !set) throw new Error(`${name} is required: ${arg}`);
    if (op === ':-') return set || arg;
    if (op === '-') return set ?? arg;
    return set ?? '';
  });
}

/** The environment a service's process gets, as compose builds it from the user's shell environment. */
function serviceEnv(service: Service, shell: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), shell)]),
  );
}

/** A compose shell script (a `command` run by `sh -c`) with `$$` unescaped, as compose hands it to sh. */
function script(service: Service): string {
  expect(service.entrypoint).toEqual(['/bin/sh', '-c']);
  return service.command![0].replace(/\$\$/g, '$');
}

const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? NaN);

describe('docker-compose.yml', () => {
  let compose: Compose;
  const shell = { UPSTREAM_BASE_URL: 'http://host.docker.internal:8080/v1', API_KEYS: 'sk-a,sk-b' };
  beforeAll(async () => {
    compose = parse(await readFile(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
  });

  it('has the topology: Temporal on PostgreSQL with its schema, the UI, a GCS emulator, api and worker', () => {
    const { services } = compose;
    expect(Object.keys(services).sort()).toEqual(
      [
        'api',
        'gcs',
        'gcs-setup',
        'postgresql',
        'temporal',
        'temporal-schema',
        'temporal-setup',
        'temporal-ui',
        'worker',
      ].sort(),
    );
    // Every dependency names a service, and one-shot setups are awaited to completion.
    for (const [name, service] of Object.entries(services)) {
      const deps = Array.isArray(service.depends_on) ? service.depends_on : Object.keys(service.depends_on ?? {});
      for (const dep of deps) expect(Object.keys(services)).toContain(dep);
      if (!Array.isArray(service.depends_on)) {
        for (const [dep, { condition }] of Object.entries(service.depends_on ?? {})) {
          const oneShot = dep.endsWith('-setup') || dep.endsWith('-schema');
          expect([name, dep, condition]).toEqual([
            name,
            dep,
            oneShot ? 'service_completed_successfully' : 'service_healthy',
          ]);
        }
      }
    }
    expect(services.temporal.image).toMatch(/^temporalio\/server:\d/);
    expect(services['temporal-schema'].image).toMatch(/^temporalio\/admin-tools:\d/);
    // Server and admin-tools (the schema tool) move together.
    expect(services.temporal.image!.split(':')[1]).toBe(services['temporal-schema'].image!.split(':')[1]);
    expect(services['temporal-ui'].image).toMatch(/^temporalio\/ui:\d/);
    expect(services.postgresql.image).toMatch(/^postgres:\d+$/);

    const temporalEnv = serviceEnv(services.temporal, shell);
    const pg = serviceEnv(services.postgresql, shell);
    expect(temporalEnv).toMatchObject({
      DB: 'postgres12',
      POSTGRES_SEEDS: 'postgresql',
      POSTGRES_USER: pg.POSTGRES_USER,
    });
    expect(temporalEnv.POSTGRES_PWD).toBe(pg.POSTGRES_PASSWORD);
    expect(serviceEnv(services['temporal-schema'], shell).SQL_PASSWORD).toBe(pg.POSTGRES_PASSWORD);
    expect(script(services['temporal-schema'])).toMatch(/temporal-sql-tool --plugin postgres12 --ep postgresql/);
    // The dynamic config the server is told to read is the one mounted.
    const mounted = services.temporal.configs![0];
    expect(mounted.target).toBe(`/etc/temporal/${temporalEnv.DYNAMIC_CONFIG_FILE_PATH}`);
    const dynamic = parse(compose.configs![mounted.source].content) as Record<string, { value: unknown }[]>;
    expect(dynamic).toHaveProperty(['limit.maxIDLength']);
    // Priority and Fairness on, as the embedded dev server has them.
    for (const setting of FAIRNESS_DYNAMIC_CONFIG)
      expect([setting, dynamic[setting]?.[0]?.value]).toEqual([setting, true]);
    expect(services.temporal.ports).toContain('7233:7233');
    expect(serviceEnv(services['temporal-ui'], shell).TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  it('gives api and worker environments the real config parser accepts, pointing at these services', () => {
    const { services } = compose;
    const known = new Set(describeVariables().map((v) => v.name));
    const gcsArgs = services.gcs.command!;
    const gcsPort = gcsArgs[gcsArgs.indexOf('-port') + 1];
    const createdBucket = /"name":"([^"]+)"/.exec(script(services['gcs-setup']))?.[1];

    for (const role of ['api', 'worker'] as const) {
      const service = services[role];
      expect(service.build).toBe('.');
      expect(service.command).toEqual(['node', 'scripts/launch.js', role]);
      const env = serviceEnv(service, shell);
      for (const name of Object.keys(env)) expect([role, name, known.has(name)]).toEqual([role, name, true]);
      const config = loadConfig(env, role);

      const [host, port] = (config.temporal.address as string).split(':');
      expect(services[host].ports).toContain(`${port}:${port}`);
      expect(config.storage).toEqual({
        kind: 'gcs',
        bucket: createdBucket,
        prefix: '',
        emulatorHost: `http://gcs:${gcsPort}`,
      });
      // Without the emulator (STORAGE_EMULATOR_HOST set empty) the same file talks to real GCS.
      expect(loadConfig(serviceEnv(service, { ...shell, STORAGE_EMULATOR_HOST: '' }), role).storage).toMatchObject({
        kind: 'gcs',
        emulatorHost: null,
      });

      const probe = service.healthcheck!.test.join(' ');
      if (role === 'api') {
        expect(service.ports).toContain(`${config.api.port}:${config.api.port}`);
        expect(probe).toContain(`http://127.0.0.1:${config.api.port}/healthz`);
        expect(config.api.apiKeys).not.toBeNull();
        // The dashboard links batches to the Web UI this file publishes.
        const uiPort = services['temporal-ui'].ports![0].split(':')[0];
        expect(config.api.temporalUiUrl).toBe(`http://localhost:${uiPort}`);
      } else {
        expect(probe).toContain(`http://127.0.0.1:${config.worker.metricsPort}/metrics`);
        // The e-mail links to the dashboard the api service publishes.
        expect(config.email.dashboardUrl).toBe(`http://localhost:${services.api.ports![0].split(':')[0]}`);
        // Docker's kill comes after the worker's own grace time, so running chunks flush first.
        expect(seconds(service.stop_grace_period!)).toBeGreaterThan(config.worker.shutdownGraceSeconds);
      }
    }
    // The API refuses to start without keys: compose requires them rather than starting one that exits.
    expect(() => serviceEnv(services.api, { ...shell, API_KEYS: '' })).toThrow(/API_KEYS is required/);
    expect(() => serviceEnv(services.worker, { API_KEYS: 'k' })).toThrow(/UPSTREAM_BASE_URL is required/);
  });

  it('sets every variable it gives one of api and worker on each process that reads it, from the config parser', () => {
    const { services } = compose;
    const readBy = new Map(describeVariables().map((v) => [v.name, v.readBy]));
    const envs = { api: serviceEnv(services.api, shell), worker: serviceEnv(services.worker, shell) };
    const setAnywhere = new Set([...Object.keys(envs.api), ...Object.keys(envs.worker)]);
    for (const name of setAnywhere) {
      for (const role of ['api', 'worker'] as const) {
        const reads = readBy.get(name)?.includes(role) ?? false;
        // A variable the process reads is set on it; one it does not read is not (it would do nothing).
        expect([name, role, name in envs[role]]).toEqual([name, role, reads]);
      }
    }
    // And both processes get the same value where both read a variable.
    for (const name of setAnywhere) {
      if (name in envs.api && name in envs.worker) expect([name, envs.api[name]]).toEqual([name, envs.worker[name]]);
    }
  });

  it('dials both Temporal databases on one port, the one its schema tool uses', () => {
    const { services } = compose;
    const env = serviceEnv(services.temporal, shell);
    expect(env.VISIBILITY_DB_PORT).toBe(env.DB_PORT);
    expect(env.POSTGRES_PORT).toBe(env.DB_PORT);
    expect(serviceEnv(services['temporal-schema'], shell).DB_PORT).toBe(env.DB_PORT);
    expect(script(services['temporal-schema'])).not.toMatch(/-p 5432/);
  });

  it('runs its Temporal setup with the temporal CLI: namespace and every Batch* search attribute', async () => {
    const { address } = testTemporal();
    const namespace = `compose-${Date.now().toString(36)}`;
    // The script as written, on a namespace of its own so that the create path runs.
    const text = script(compose.services['temporal-setup']).replace(/--namespace default/g, `--namespace ${namespace}`);
    const cli = findTemporalCli(process.env.TEMPORAL_CLI_PATH ?? null);
    await run('sh', ['-c', text], {
      env: { PATH: `${path.dirname(cli)}${path.delimiter}${process.env.PATH ?? ''}`, TEMPORAL_ADDRESS: address },
    });
    // A second run (a restarted stack) succeeds too.
    await run('sh', ['-c', text], {
      env: { PATH: `${path.dirname(cli)}${path.delimiter}${process.env.PATH ?? ''}`, TEMPORAL_ADDRESS: address },
    });

    const connection = await Connection.connect({ address });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const { IndexedValueType } = temporal.api.enums.v1;
      const types: Record<string, number> = {
        KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
        BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
      };
      for (const key of BATCH_SEARCH_ATTRIBUTES) {
        expect([key.name, customAttributes?.[key.name]]).toEqual([key.name, types[key.type]]);
      }
    } finally {
      await connection.close();
    }
  });

  it('runs its GCS emulator with the compose flags and creates the bucket, twice over', async () => {
    const port = await freePort();
    const root = await mkdtemp(path.join(os.tmpdir(), 'compose-gcs-'));
    const args = compose.services.gcs.command!.map((arg, i, all) =>
      all[i - 1] === '-port'
        ? String(port)
        : all[i - 1] === '-filesystem-root'
          ? root
          : arg.replace('gcs:4443', `127.0.0.1:${port}`),
    );
    const child = spawn(fakeGcsBinary(), [...args, '-host', '127.0.0.1', '-log-level', 'error'], { stdio: 'ignore' });
    try {
      const text = script(compose.services['gcs-setup']).replace('http://gcs:4443', `http://127.0.0.1:${port}`);
      await run('sh', ['-c', text], { timeout: 20_000 });
      await run('sh', ['-c', text], { timeout: 20_000 });
      const res = await fetch(`http://127.0.0.1:${port}/storage/v1/b/batches`);
      expect(res.status).toBe(200);
    } finally {
      child.kill();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('Dockerfile', () => {
  it('builds every source folder in a build stage and runs the launcher from a slim runtime stage', async () => {
    const dockerfile = await readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = JSON.parse(await readFile(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    for (const folder of build.include) expect(stages[0]).toMatch(new RegExp(`^COPY ${folder} \\./${folder}$`, 'm'));
    expect(stages[0]).toMatch(/^RUN npm run build/m);
    const runtime = stages[stages.length - 1];
    expect(runtime).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(runtime).toMatch(/^COPY scripts \.\/scripts$/m);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^EXPOSE 8000$/m);
    expect(loadConfig({ API_KEYS: 'k' }, 'api').api.port).toBe(8000);
  });
});
