// Lint, and the import boundaries of STYLE.md B3 made mechanical.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

const builtins = builtinModules.flatMap((m) => [m, `${m}/*`, `node:${m}`, `node:${m}/*`]);

/** `from` folders that `target` must not import (values or types, unless noted in B3). */
const zones = [
  {
    target: './workflows',
    from: [
      './storage',
      './config',
      './api',
      './worker',
      './standalone',
      './telemetry',
      './upstream',
      './webhooks',
      './notifications',
    ],
  },
  { target: './activities', from: ['./api', './worker', './standalone', './workflows'] },
  {
    target: './storage',
    from: [
      './api',
      './workflows',
      './activities',
      './worker',
      './standalone',
      './telemetry',
      './upstream',
      './webhooks',
      './notifications',
    ],
  },
  // The outbound ports: what they need from Temporal, storage and the activities is injected by worker/.
  {
    target: './upstream',
    from: [
      './api',
      './workflows',
      './activities',
      './worker',
      './standalone',
      './storage',
      './webhooks',
      './notifications',
    ],
  },
  {
    target: './webhooks',
    from: [
      './api',
      './workflows',
      './activities',
      './worker',
      './standalone',
      './storage',
      './upstream',
      './notifications',
    ],
  },
  // E-mail to people: the message and the SMTP sender. The activity decides when, and records that it did.
  {
    target: './notifications',
    from: ['./api', './workflows', './activities', './worker', './standalone', './storage', './upstream', './webhooks'],
  },
  {
    target: './telemetry',
    from: [
      './api',
      './workflows',
      './activities',
      './worker',
      './standalone',
      './storage',
      './upstream',
      './webhooks',
      './notifications',
    ],
  },
  // The API lists the upstreams' models (upstream/models.ts); it never sends requests upstream.
  { target: './api', from: ['./activities', './worker', './standalone', './notifications'] },
  { target: './worker', from: ['./api', './standalone'] },
  // config/ may use common/'s pure rules (how a completion window is written), nothing with I/O.
  {
    target: './config',
    from: [
      './api',
      './workflows',
      './activities',
      './worker',
      './storage',
      './standalone',
      './upstream',
      './webhooks',
      './notifications',
    ],
  },
  {
    target: './common',
    from: [
      './api',
      './workflows',
      './activities',
      './worker',
      './storage',
      './config',
      './standalone',
      './telemetry',
      './upstream',
      './webhooks',
      './notifications',
    ],
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', '.venv/**', '.cache/**', 'test-results/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.mjs', 'scripts/*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones }],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Read the environment through config/ (loadConfig) only.' },
      ],
    },
  },
  {
    // Workflows run in Temporal's deterministic sandbox: no Node built-ins, no side-effecting packages.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: builtins, patterns: builtins }],
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../activities', '../activities/*'], allowTypeImports: true, message: 'Type imports only.' },
            {
              group: [
                '../storage*',
                '../config*',
                '../api*',
                '../worker*',
                '../standalone*',
                '../telemetry*',
                '../upstream*',
                '../webhooks*',
                '../notifications*',
              ],
            },
            { group: ['@temporalio/activity', '@temporalio/client', '@temporalio/worker'] },
            { group: ['@google-cloud/storage', 'zod', 'undici', 'express', 'pino', 'prom-client', 'nodemailer'] },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval', 'fetch'],
    },
  },
  {
    // The composition roots and the tests may read the environment they are started with.
    files: ['config/**', 'scripts/**', 'test/**', 'bench/**', 'standalone/temporal-dev-server.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    rules: {
      ...tseslint.configs.disableTypeChecked.rules,
      '@typescript-eslint/no-require-imports': 'off',
      'no-restricted-properties': 'off',
    },
  },
);
