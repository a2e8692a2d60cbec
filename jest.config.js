/**
 * Three suites, all run by `npm test`:
 * - unit: no servers (the fixture upstream at most);
 * - contract: the real `openai` client against the real API, worker and a Temporal dev server;
 * - integration: whole batches end to end, processes started and stopped.
 * The global setup starts one Temporal dev server and bundles the workflows once for the contract and
 * integration suites.
 */
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };
const common = { testEnvironment: 'node', transform, moduleFileExtensions: ['ts', 'js', 'json'] };

/** @type {import('jest').Config} */
module.exports = {
  // Tests assert what features promise, never durations: a busy machine may make any of them slow, so none
  // fails for taking longer than Jest's default 5 s (suites that need more set their own).
  testTimeout: 120_000,
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'contract', testMatch: ['<rootDir>/test/contract/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
  ],
};
