import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PostgresServer, startPostgres, waitFor } from '@jetsaga/devstack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Db, withTransaction } from './db.js';
import { createHttpApp } from './http.js';
import { createLogger } from './log.js';

/**
 * A Postgres of its own, stopped (a fast shutdown, as a pod's restart sends) and started again while a route uses it: every answer in between is a 503 with
 * `Retry-After` (the client may send it again), never a 500, and the route serves again once Postgres is back.
 */
let dir: string;
let postgres: PostgresServer;
let db: Db;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jetsaga-db-unavailable-'));
  // Postgres runs as its own user (when we are root): it must be able to reach its directory inside this one.
  await chmod(dir, 0o755);
  postgres = await startPostgres({ dir: join(dir, 'pg'), fast: true });
  db = createPool(postgres.url, 'public', { max: 2 });
  await db.query('CREATE TABLE things (id serial PRIMARY KEY, name text NOT NULL)');
});

afterAll(async () => {
  await db?.end();
  await postgres?.stop();
  await rm(dir, { recursive: true, force: true });
});

function app() {
  const http = createHttpApp({ log: createLogger('db-unavailable-test', 'silent') });
  http.post('/things', async (c) => {
    const id = await withTransaction(
      db,
      async (tx) => (await tx.query('INSERT INTO things (name) VALUES ($1) RETURNING id', ['a'])).rows[0].id,
    );
    return c.json({ id }, 201);
  });
  http.get('/things', async (c) => c.json({ count: (await db.query('SELECT count(*)::int AS n FROM things')).rows[0].n }));
  return http;
}

describe('a route whose database goes away', () => {
  it('answers 503 with Retry-After while Postgres is down, changes nothing, and serves again once it is back', async () => {
    const http = app();
    expect((await http.request('/things', { method: 'POST' })).status).toBe(201);
    const before = (await (await http.request('/things')).json()) as { count: number };

    await postgres.stop();
    for (const request of [() => http.request('/things', { method: 'POST' }), () => http.request('/things')]) {
      const answer = await request();
      expect(answer.status).toBe(503);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await answer.json()).toMatchObject({ status: 503, title: 'Service unavailable' });
    }

    await postgres.restart();
    const after = await waitFor(
      'the route to serve again',
      async () => {
        const answer = await http.request('/things');
        return answer.status === 200 ? ((await answer.json()) as { count: number }) : undefined;
      },
      30_000,
      100,
    );
    expect(after.count).toBe(before.count);
  });
});
