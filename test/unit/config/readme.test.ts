/**
 * Pins the README's configuration table to the schema: every variable documented, none invented, and the
 * "read by" column saying which processes read each one.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describeVariables } from '../../../config';

function tableRows(): { names: string[]; readBy: string }[] {
  const readme = readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Running in production'));
  return section
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .map((row) => {
      const cells = row.split('|').map((c) => c.trim());
      return { names: [...cells[1].matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1]), readBy: cells[3] };
    });
}

describe('the README configuration table', () => {
  it('names exactly the variables the configuration schema reads', () => {
    const documented = tableRows().flatMap((r) => r.names);
    expect(documented.sort()).toEqual(
      describeVariables()
        .map((v) => v.name)
        .sort(),
    );
  });

  it('says which process reads each variable, as the schema does', () => {
    const expected = (readBy: readonly string[]) =>
      readBy.length === 1 ? '`npm start`' : ['api', 'worker'].filter((r) => readBy.includes(r)).join(', ');
    const byName = new Map(describeVariables().map((v) => [v.name, expected(v.readBy)]));
    for (const row of tableRows()) {
      for (const name of row.names) expect([name, row.readBy]).toEqual([name, byName.get(name)]);
    }
  });
});
