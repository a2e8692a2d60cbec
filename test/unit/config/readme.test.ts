/** Pins the README's configuration table to the schema: every variable documented, none invented. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describeVariables } from '../../../config';

describe('the README configuration table', () => {
  it('names exactly the variables the configuration schema reads', () => {
    const readme = readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Running in production'));
    const documented = new Set<string>();
    for (const row of section.split('\n').filter((l) => l.startsWith('| `'))) {
      const firstCell = row.split('|')[1];
      for (const m of firstCell.matchAll(/`([A-Z0-9_]+)`/g)) documented.add(m[1]);
    }
    expect([...documented].sort()).toEqual(
      describeVariables()
        .map((v) => v.name)
        .sort(),
    );
  });
});
