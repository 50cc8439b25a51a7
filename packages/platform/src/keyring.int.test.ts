import { createTestDatabase } from '@jetsaga/devstack';
import { createEvent, type DomainEvent, ERASED, isSealed, uuidv7 } from '@jetsaga/events';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool, type Db, migrate, withTransaction } from './db.js';
import { KEYRING_SCHEMA, Keyring, keyringMigrations, PlaintextPersonalDataError } from './keyring.js';
import { enqueue, eventMessage, outboxMigration } from './outbox.js';
import { newKeyEncryptionKey, parseKeyEncryptionKey } from './sealing.js';

/** The key store on a real Postgres: sealed on write in the outbox's transaction, opened by key id, destroyed once. */
const SCHEMA = 'keyringtest';
let db: Db;
let bare: Db;
let keyring: Keyring;

const meta = () => ({ id: uuidv7(), occurredAt: new Date().toISOString(), correlationId: uuidv7(), causationId: 'test', actor: 'test' });
const registered = (customerId: string, name = 'Ada Lovelace'): DomainEvent =>
  createEvent(
    'CustomerRegistered',
    customerId,
    {
      customerId,
      name,
      email: `${name.split(' ')[0]!.toLowerCase()}@example.org`,
      balanceCents: 0,
      address: { line1: '12 St James Square', city: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
    },
    meta(),
  );

async function outboxEvents(customerId: string): Promise<DomainEvent[]> {
  const { rows } = await db.query<{ payload: DomainEvent }>(
    `SELECT payload FROM outbox WHERE payload->'data'->>'customerId' = $1 ORDER BY position`,
    [customerId],
  );
  return rows.map((row) => row.payload);
}

beforeAll(async () => {
  const url = await createTestDatabase(inject('postgresUrl'), 'keyring');
  db = createPool(url, SCHEMA);
  bare = createPool(url, SCHEMA);
  await migrate(db, SCHEMA, [outboxMigration]);
  await migrate(db, KEYRING_SCHEMA, keyringMigrations);
  keyring = new Keyring(parseKeyEncryptionKey(newKeyEncryptionKey())).attach(db);
});

afterAll(async () => {
  await db?.end();
  await bare?.end();
});

describe('the keyring on Postgres', () => {
  it('seals personal fields in the outbox row, with a key made in the same transaction, and opens them back', async () => {
    const customerId = uuidv7();
    const event = registered(customerId);
    await withTransaction(db, (tx) => enqueue(tx, [eventMessage(event)]));
    const [stored] = await outboxEvents(customerId);
    expect(JSON.stringify(stored)).not.toMatch(/Ada|ada@|James|London|SW1Y/);
    expect(isSealed((stored!.data as { name: string }).name)).toBe(true);
    expect(await keyring.open(db, [stored!])).toEqual([event]);
  });

  it('makes no key when the transaction rolls back', async () => {
    const customerId = uuidv7();
    await expect(
      withTransaction(db, async (tx) => {
        await enqueue(tx, [eventMessage(registered(customerId))]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const { rows } = await db.query(`SELECT 1 FROM ${KEYRING_SCHEMA}.data_keys WHERE customer_id = $1`, [customerId]);
    expect(rows).toEqual([]);
  });

  it('gives concurrent first writes for one customer one key', async () => {
    const customerId = uuidv7();
    await Promise.all(Array.from({ length: 8 }, () => withTransaction(db, (tx) => enqueue(tx, [eventMessage(registered(customerId))]))));
    const { rows } = await db.query(`SELECT key_id FROM ${KEYRING_SCHEMA}.data_keys WHERE customer_id = $1`, [customerId]);
    expect(rows).toHaveLength(1);
    const opened = await keyring.open(db, await outboxEvents(customerId));
    expect(new Set(opened.map((event) => (event.data as { name: string }).name))).toEqual(new Set(['Ada Lovelace']));
  });

  it('erases once: what was sealed opens as [erased], what is written later carries [erased], and again changes nothing', async () => {
    const customerId = uuidv7();
    const other = uuidv7();
    await withTransaction(db, (tx) => enqueue(tx, [eventMessage(registered(customerId)), eventMessage(registered(other, 'Bob Other'))]));
    const at = new Date('2026-12-03T15:00:00.000Z');
    expect(await withTransaction(db, (tx) => keyring.erase(tx, customerId, at))).toEqual({ erasedAt: at, already: false });
    expect(await withTransaction(db, (tx) => keyring.erase(tx, customerId, new Date()))).toEqual({ erasedAt: at, already: true });
    expect(await keyring.isErased(db, customerId)).toBe(true);
    await withTransaction(db, (tx) => enqueue(tx, [eventMessage(registered(customerId))]));
    const [before, after] = await outboxEvents(customerId);
    expect((await keyring.open(db, [before!]))[0]!.data).toMatchObject({
      name: ERASED,
      email: ERASED,
      address: { line1: ERASED, country: 'GB' },
    });
    expect(after!.data).toMatchObject({ name: ERASED, email: ERASED, address: { city: ERASED } });
    // The other customer, sealed in the same statement, still opens.
    expect((await keyring.open(db, await outboxEvents(other)))[0]!.data).toMatchObject({ name: 'Bob Other' });
  });

  it('erases a customer who never had a key, so none is made for them later', async () => {
    const customerId = uuidv7();
    await withTransaction(db, (tx) => keyring.erase(tx, customerId, new Date()));
    await withTransaction(db, (tx) => enqueue(tx, [eventMessage(registered(customerId))]));
    expect((await outboxEvents(customerId))[0]!.data).toMatchObject({ name: ERASED, email: ERASED });
  });

  it('refuses to write personal data in the clear where no keyring is attached', async () => {
    await expect(withTransaction(bare, (tx) => enqueue(tx, [eventMessage(registered(uuidv7()))]))).rejects.toThrow(
      PlaintextPersonalDataError,
    );
  });
});
