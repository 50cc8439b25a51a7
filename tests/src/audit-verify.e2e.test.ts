import { waitFor } from '@jetsaga/devstack';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from './support/harness.js';

/**
 * The audit service verifies its chain by itself, every AUDIT_VERIFY_INTERVAL_MS, and publishes the verdict as the
 * metric JetsagaAuditChainBroken reads. Nothing here calls GET /api/audit/verify (which sets the same gauge): what the
 * metric shows is the periodic verification's.
 */
const INTERVAL_MS = 300;

let t: TestSystem;

/** One unlabelled gauge or counter of the audit service's own scrape (every series carries `app`). */
async function metric(name: string): Promise<number | undefined> {
  const text = await (await fetch(t.system.metricsUrls.audit)).text();
  const sample = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text);
  return sample ? Number(sample[1]) : undefined;
}

async function asSuperuser<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await t.sql.connect();
  try {
    // Switches the append-only triggers off for this session, as only someone bypassing the service could.
    await client.query('SET session_replication_role = replica');
    return await work(client);
  } finally {
    await client.query('RESET session_replication_role').catch(() => undefined);
    client.release();
  }
}

beforeAll(async () => {
  t = await startTestSystem({ AUDIT_VERIFY_INTERVAL_MS: String(INTERVAL_MS) });
  for (let i = 0; i < 3; i++)
    await t.api.ok('POST', '/api/customers', { name: `Verify ${i}`, email: `verify${i}@example.org`, balanceCents: 1000 });
  await waitFor(
    'the events to be in the audit trail',
    async () => Number((await t.sql.query('SELECT count(*) AS n FROM audit.entries')).rows[0].n) >= 3,
    30_000,
  );
});

afterAll(async () => {
  await t?.stop();
});

describe('the periodic verification of the audit chain', () => {
  it('verifies the trail by itself and reports a holding chain', async () => {
    const head = Number((await t.sql.query('SELECT max(position) AS head FROM audit.entries')).rows[0].head);
    const before = (await metric('jetsaga_audit_verified_entries_total')) ?? 0;
    // A run after the entries were appended checks every one of them again.
    await waitFor(
      'a verification over the whole trail',
      async () => ((await metric('jetsaga_audit_verified_entries_total')) ?? 0) >= before + head,
      10_000,
    );
    expect(await metric('jetsaga_audit_chain_ok')).toBe(1);
    expect(await metric('jetsaga_audit_chain_broken_position')).toBe(0);
  });

  it('reports a row changed in SQL within an interval, naming its position, and holds again once it is put back', async () => {
    const position = 2;
    const { rows } = await t.sql.query('SELECT envelope FROM audit.entries WHERE position = $1', [position]);
    await asSuperuser((sql) =>
      sql.query(`UPDATE audit.entries SET envelope = jsonb_set(envelope, '{data,tampered}', 'true') WHERE position = $1`, [position]),
    );
    await waitFor('the periodic verification to see the change', async () => (await metric('jetsaga_audit_chain_ok')) === 0, 10_000);
    expect(await metric('jetsaga_audit_chain_broken_position')).toBe(position);
    await asSuperuser((sql) => sql.query('UPDATE audit.entries SET envelope = $2 WHERE position = $1', [position, rows[0].envelope]));
    await waitFor('the chain to verify again', async () => (await metric('jetsaga_audit_chain_ok')) === 1, 10_000);
    expect(await metric('jetsaga_audit_chain_broken_position')).toBe(0);
  });
});
