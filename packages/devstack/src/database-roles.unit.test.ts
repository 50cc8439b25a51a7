import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DATABASE_SERVICES, databaseRole, databaseRolesSql, rolePasswords, withVariables } from './database-roles.js';
import { REPO_ROOT } from './system.js';

describe('the database roles script', () => {
  it('names every service that has a database with the schema its definition declares, and no other', async () => {
    const declared: Record<string, string> = {};
    for (const service of await readdir(join(REPO_ROOT, 'services'))) {
      const main = await readFile(join(REPO_ROOT, 'services', service, 'src', 'main.ts'), 'utf8').catch(() => '');
      const schema = /\bschema: '([a-z_]+)'/.exec(main)?.[1];
      if (schema) declared[service] = schema;
    }
    expect(DATABASE_SERVICES).toEqual(declared);
  });

  it('holds no password: each is a psql variable, replaced by an escaped SQL literal', () => {
    const sql = databaseRolesSql();
    expect(sql).toContain(`ALTER ROLE ${databaseRole('event-store')} WITH LOGIN`);
    expect(sql).toContain(":'password_event_store'");
    const filled = withVariables(
      sql,
      rolePasswords((who) => (who === 'order' ? "it's" : `pw-${who}`)),
    );
    expect(filled).toContain("PASSWORD 'it''s';");
    expect(filled).not.toMatch(/:'[a-z_]+'/);
    expect(() => withVariables(sql, {})).toThrow(/needs the variable password_/);
  });
});
