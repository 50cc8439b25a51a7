import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestDatabase } from '@jetsaga/devstack';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestSystem, type TestSystem } from './support/harness.js';
import { tokenFor } from './support/tokens.js';

/**
 * Credentials never reach the logs (README, Security; packages/platform/src/redact.ts). The whole system runs at
 * debug level on a database role whose password exists only for this run, real requests go through it with bearer
 * tokens (good and bad ones, through the gateway and straight to a service), and then every line every process wrote
 * (the supervisor's log files, stdout and stderr) is searched for each token, database and NATS password and database URL used.
 */

let t: TestSystem | undefined;
let logDir: string;
const secrets: Record<string, string> = {};

/** A token-shaped credential no issuer signed: refused, and, like a good one, never logged. */
const forged = () =>
  [
    { alg: 'ES256', kid: 'forged' },
    { sub: 'mallory', role: 'admin', nonce: randomBytes(8).toString('hex') },
  ]
    .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
    .concat(randomBytes(64).toString('base64url'))
    .join('.');

async function send(url: string, method: string, path: string, token: string | undefined, body?: unknown) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  await response.arrayBuffer();
  return response.status;
}

beforeAll(async () => {
  // A role of this run only, with a password nothing else in the logs could contain by chance.
  const adminUrl = await createTestDatabase(inject('postgresUrl'), 'secrets');
  const role = `jetsaga_logs_${randomBytes(4).toString('hex')}`;
  secrets.databasePassword = `pw-${randomBytes(16).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${secrets.databasePassword}'`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.username = role;
  url.password = secrets.databasePassword;
  secrets.databaseUrl = url.toString();
  secrets.forgedToken = forged();
  // A good token of the suite's issuer: accepted, so its requests go all the way (and are logged at debug level).
  secrets.validToken = await tokenFor('admin', `logs-${randomBytes(4).toString('hex')}`);
  t = await startTestSystem({ DATABASE_URL: secrets.databaseUrl, LOG_LEVEL: 'debug' });
  // Every NATS user's password of the run (each service's, and the admin's of the topology step).
  for (const [user, password] of Object.entries(t.natsAuth.passwords)) secrets[`nats password of ${user}`] = password;
  logDir = t.logDir;

  const gateway = t.system.gatewayUrl;
  const token = secrets.validToken;
  const customer = await fetch(`${gateway}/api/customers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ name: 'Ada', email: 'ada@example.org', balanceCents: 10_000 }),
  });
  const customerId = customer.ok ? ((await customer.json()) as { id: string }).id : undefined;
  // Requests that succeed, fail validation, name nothing, go to a service directly, or carry no or a forged token.
  await send(gateway, 'GET', `/api/customers/${customerId ?? '0'}`, token);
  await send(gateway, 'POST', '/api/customers', token, '{"name": "Ada",');
  await send(gateway, 'POST', '/api/products', token, { sku: 'S', name: 'Lamp', priceCents: -1, stock: 1 });
  await send(gateway, 'GET', '/api/orders/not-an-id', token);
  await send(gateway, 'GET', '/api/warehouses', token);
  await send(gateway, 'GET', '/api/sales/summary', undefined);
  await send(t.system.urls.payment, 'GET', `/api/customers/${customerId ?? '0'}`, token);
  await send(t.system.urls['event-store'], 'GET', '/api/dlq', token);
  await send(gateway, 'GET', '/api/orders', secrets.forgedToken);
  await send(t.system.urls.payment, 'GET', '/api/customers', secrets.forgedToken);
  await fetch(`${gateway}/api/sales/summary`, {
    headers: { authorization: `Basic ${Buffer.from(`ops:${secrets.databasePassword}`).toString('base64')}` },
  });
  // Everything written: the processes are stopped, their streams closed.
  await t.stop();
  t = undefined;
});

afterAll(async () => {
  await t?.stop();
});

/** Every line every process of the run wrote, by file. */
async function logs(): Promise<Record<string, string>> {
  const files = await readdir(logDir);
  return Object.fromEntries(await Promise.all(files.map(async (file) => [file, await readFile(join(logDir, file), 'utf8')] as const)));
}

/** Where a secret appears in the logs: its file and the line, shortened. */
function occurrences(all: Record<string, string>, secret: string): string[] {
  return Object.entries(all).flatMap(([file, text]) =>
    text
      .split('\n')
      .filter((line) => line.includes(secret))
      .map((line) => `${file}: ${line.slice(0, 300)}`),
  );
}

describe('secrets in the logs of a run', () => {
  it('the logs are there to search: every service wrote them, at debug level', async () => {
    const all = await logs();
    for (const service of ['order', 'inventory', 'payment', 'sales', 'event-store', 'gateway']) {
      expect(all[`${service}.log`], service).toMatch(/listening/);
    }
    expect(Object.values(all).join('\n')).toMatch(/"level":"debug"/);
  });

  it('holds no token, password or database URL used in the run', async () => {
    const all = await logs();
    const searched: Record<string, string> = {
      ...secrets,
      // A token's signature alone is enough to replay nothing, but its payload and signature together are the token.
      forgedTokenSignature: secrets.forgedToken!.split('.')[2]!,
      validTokenSignature: secrets.validToken!.split('.')[2]!,
      basicCredentials: Buffer.from(`ops:${secrets.databasePassword}`).toString('base64'),
    };
    for (const [name, secret] of Object.entries(searched)) expect(occurrences(all, secret), name).toEqual([]);
  });

  it('the search finds a secret where one is (the check can fail)', async () => {
    const planted = { 'planted.log': `{"msg":"oops","url":"${secrets.databaseUrl}"}` };
    expect(occurrences(planted, secrets.databasePassword!)).toHaveLength(1);
  });
});
