/**
 * Pins `TENANTS` and the e-mail settings: named tenants with keys, an address and a weight, given as JSON or
 * a file; TENANTS alone turns authentication on; every mistake reported at start-up.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../../config';

const UPSTREAM = { UPSTREAM_BASE_URL: 'http://127.0.0.1:8080/v1' };
const TEAMS = {
  'team-a': { keys: ['sk-a1', 'sk-a2'], email: 'a@example.org', weight: 3 },
  'team-b': { keys: ['sk-b'] },
};

describe('TENANTS', () => {
  it('names tenants with their keys, e-mail address and weight (1 unless set)', () => {
    const c = loadConfig({ ...UPSTREAM, TENANTS: JSON.stringify(TEAMS) });
    expect(c.tenants).toEqual([
      { name: 'team-a', keys: ['sk-a1', 'sk-a2'], email: 'a@example.org', weight: 3 },
      { name: 'team-b', keys: ['sk-b'], email: null, weight: 1 },
    ]);
  });

  it('turns authentication on by itself; the keys of API_KEYS are accepted beside them', () => {
    const alone = loadConfig({ TENANTS: JSON.stringify(TEAMS) }, 'api');
    expect(alone.api.apiKeys).toEqual(['sk-a1', 'sk-a2', 'sk-b']);
    const both = loadConfig({ TENANTS: JSON.stringify(TEAMS), API_KEYS: 'sk-plain,sk-b' }, 'api');
    expect(both.api.apiKeys).toEqual(['sk-plain', 'sk-b', 'sk-a1', 'sk-a2']);
  });

  it('reads a JSON file when given a path', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'tenants-')), 'tenants.json');
    writeFileSync(file, JSON.stringify(TEAMS));
    expect(loadConfig({ ...UPSTREAM, TENANTS: file }).tenants.map((t) => t.name)).toEqual(['team-a', 'team-b']);
  });

  it.each([
    ['not JSON', '{team', /TENANTS: not valid JSON/],
    ['a missing file', '/nonexistent/tenants.json', /TENANTS: cannot read file/],
    ['no keys', '{"team": {"keys": []}}', /TENANTS\.team\.keys/],
    ['a bad address', '{"team": {"keys": ["k"], "email": "nobody"}}', /TENANTS\.team\.email/],
    ['a weight of 0', '{"team": {"keys": ["k"], "weight": 0}}', /TENANTS\.team\.weight/],
    ['a name that is not a key segment', '{"team/a": {"keys": ["k"]}}', /a tenant name is/],
    ['a name of the key_ kind', '{"key_abc": {"keys": ["k"]}}', /reserved for API_KEYS/],
    ['one key for two tenants', '{"a": {"keys": ["k"]}, "b": {"keys": ["k"]}}', /listed for both 'a' and 'b'/],
  ])('refuses %s', (_what, value, problem) => {
    expect(() => loadConfig({ ...UPSTREAM, TENANTS: value })).toThrow(problem);
  });
});

describe('e-mail settings', () => {
  it('takes an smtp:// or smtps:// URL and requires EMAIL_FROM with it', () => {
    const c = loadConfig(
      { ...UPSTREAM, SMTP_URL: 'smtps://u:p@mail.example.org:465', EMAIL_FROM: 'Batches <b@example.org>' },
      'worker',
    );
    expect(c.email).toEqual({
      smtpUrl: 'smtps://u:p@mail.example.org:465',
      from: 'Batches <b@example.org>',
      dashboardUrl: null,
    });
    expect(() => loadConfig({ ...UPSTREAM, SMTP_URL: 'smtp://mail:25' }, 'worker')).toThrow(/EMAIL_FROM: required/);
    expect(() => loadConfig({ ...UPSTREAM, SMTP_URL: 'http://mail:25', EMAIL_FROM: 'b@x.org' })).toThrow(/SMTP_URL/);
  });

  it('links to the dashboard at DASHBOARD_URL, or under npm start at its own port', () => {
    expect(loadConfig({ ...UPSTREAM, DASHBOARD_URL: 'https://batches.example.org/' }).email.dashboardUrl).toBe(
      'https://batches.example.org',
    );
    expect(loadConfig({ ...UPSTREAM, PORT: '9000' }).email.dashboardUrl).toBe('http://localhost:9000');
    expect(loadConfig({ ...UPSTREAM }, 'worker').email.dashboardUrl).toBeNull();
  });
});
