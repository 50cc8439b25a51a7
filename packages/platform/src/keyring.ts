import { randomUUID } from 'node:crypto';
import { personalFieldsOf } from '@jetsaga/events';
import type { Db, Migration, Tx } from './db.js';
import {
  customerOf,
  type DataKey,
  hasPlaintextPersonalData,
  keyIdsOf,
  newDataKey,
  openEvent,
  sealEvent,
  unwrapDataKey,
  wrapDataKey,
} from './sealing.js';

/**
 * The key store of crypto-shredding (docs/adr/0052-crypto-shredding.md): one data key per customer, wrapped by the
 * master key, in a schema of its own (`keyring`) that every service reaches through this module only. A row whose
 * `wrapped` is NULL is an erased customer: the key is gone for good, and nothing is ever sealed for them again.
 */
export const KEYRING_SCHEMA = 'keyring';

export const keyringMigrations: Migration[] = [
  {
    id: 'keyring/001_data_keys',
    sql: `
      CREATE TABLE data_keys (
        customer_id uuid PRIMARY KEY,
        key_id uuid NOT NULL UNIQUE,
        wrapped bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        erased_at timestamptz,
        CONSTRAINT data_keys_erased_or_kept CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL))
      );
    `,
  },
];

type KeyRow = { customer_id: string; key_id: string; wrapped: Buffer | null; erased_at: Date | null };

type Queryable = Pick<Db, 'query'>;

/** What enqueue needs to know of a message: events are sealed, anything else passes. */
type Message = { payload: unknown };

const keyrings = new WeakMap<Db, Keyring>();

/** The keyring attached to a pool (see Keyring.attach): what enqueue seals with. */
export function keyringOf(db: Db | undefined): Keyring | undefined {
  return db ? keyrings.get(db) : undefined;
}

export class PlaintextPersonalDataError extends Error {
  override readonly name = 'PlaintextPersonalDataError';
}

function isEvent(payload: unknown): payload is { type: string; data: unknown } {
  return typeof payload === 'object' && payload !== null && typeof (payload as { type?: unknown }).type === 'string' && 'data' in payload;
}

/** Fails loudly instead of writing personal data in the clear (a transaction outside withTransaction, no keyring). */
export function assertNoPlaintext(messages: readonly Message[]): void {
  for (const message of messages) {
    if (isEvent(message.payload) && hasPlaintextPersonalData(message.payload)) {
      throw new PlaintextPersonalDataError(
        `${message.payload.type} carries personal data and no keyring seals it (KEY_ENCRYPTION_KEY, Keyring.attach)`,
      );
    }
  }
}

/**
 * Seals on write, opens for the readers that ask, destroys on erasure. Data keys are unwrapped for the batch at hand
 * and never kept: an erasure committed anywhere is seen by the next batch of every process.
 */
export class Keyring {
  constructor(
    private readonly kek: Buffer,
    private readonly newKeyId: () => string = randomUUID,
  ) {}

  /** Makes enqueue in transactions of this pool seal the personal fields of the events it writes. */
  attach(db: Db): this {
    keyrings.set(db, this);
    return this;
  }

  /**
   * The messages with every event's personal fields sealed by its customer's key (made now, in this transaction, for
   * a customer who has none yet), or `[erased]` for an erased customer.
   */
  async seal<M extends Message>(tx: Tx, messages: readonly M[]): Promise<M[]> {
    const customers = new Set<string>();
    for (const message of messages) {
      if (!isEvent(message.payload) || personalFieldsOf(message.payload.type).length === 0) continue;
      if (!hasPlaintextPersonalData(message.payload)) continue;
      const customerId = customerOf(message.payload);
      if (!customerId) throw new PlaintextPersonalDataError(`${message.payload.type} has personal data but no data.customerId`);
      customers.add(customerId);
    }
    if (customers.size === 0) return [...messages];
    const keys = await this.keysOfCustomers(tx, [...customers]);
    return messages.map((message) => {
      if (!isEvent(message.payload)) return message;
      const customerId = customerOf(message.payload);
      if (!customerId || !keys.has(customerId)) return message;
      return { ...message, payload: sealEvent(message.payload, keys.get(customerId) ?? null) };
    });
  }

  /** Each customer's data key (null: erased), made for those who have none. Rows are inserted in key order. */
  private async keysOfCustomers(tx: Tx, customerIds: readonly string[]): Promise<Map<string, DataKey | null>> {
    const sorted = [...customerIds].sort();
    let rows = await this.rowsOf(tx, sorted);
    const missing = sorted.filter((id) => !rows.some((row) => row.customer_id === id));
    if (missing.length > 0) {
      const made = missing.map(() => newDataKey(this.newKeyId()));
      await tx.query(
        `INSERT INTO ${KEYRING_SCHEMA}.data_keys (customer_id, key_id, wrapped)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bytea[]) ORDER BY 1
         ON CONFLICT (customer_id) DO NOTHING`,
        [missing, made.map((key) => key.keyId), made.map((key) => wrapDataKey(this.kek, key))],
      );
      rows = await this.rowsOf(tx, sorted);
    }
    return new Map(rows.map((row) => [row.customer_id, this.unwrap(row)]));
  }

  private async rowsOf(db: Queryable, customerIds: readonly string[]): Promise<KeyRow[]> {
    const { rows } = await db.query<KeyRow>(
      `SELECT customer_id, key_id, wrapped, erased_at FROM ${KEYRING_SCHEMA}.data_keys WHERE customer_id = ANY($1::uuid[])`,
      [customerIds],
    );
    return rows;
  }

  private unwrap(row: KeyRow): DataKey | null {
    return row.wrapped ? unwrapDataKey(this.kek, row.key_id, row.wrapped) : null;
  }

  /** The events with their personal fields opened (plaintext, or `[erased]` where the key is gone). */
  async open<E>(db: Queryable, events: readonly E[]): Promise<E[]> {
    const readable = events.filter((event) => isEvent(event)) as unknown as { type: string; data: unknown }[];
    const keyIds = keyIdsOf(readable);
    if (keyIds.length === 0) return [...events];
    const { rows } = await db.query<KeyRow>(
      `SELECT customer_id, key_id, wrapped, erased_at FROM ${KEYRING_SCHEMA}.data_keys WHERE key_id = ANY($1::uuid[]) AND wrapped IS NOT NULL`,
      [keyIds],
    );
    const keys = new Map<string, DataKey>();
    for (const row of rows) {
      const key = this.unwrap(row);
      if (key) keys.set(row.key_id, key);
    }
    return events.map((event) => (isEvent(event) ? (openEvent(event, keys) as E) : event));
  }

  /**
   * Destroys the customer's data key in the caller's transaction (with the erasure's own changes and its
   * CustomerErased): from its commit every value it sealed reads `[erased]`. A customer with no key yet gets the
   * erased row, so nothing is sealed for them later. Idempotent: the first erasure's time is kept and returned.
   */
  async erase(tx: Tx, customerId: string, at: Date): Promise<{ erasedAt: Date; already: boolean }> {
    const { rows } = await tx.query<{ erased_at: Date | null }>(
      `SELECT erased_at FROM ${KEYRING_SCHEMA}.data_keys WHERE customer_id = $1 FOR UPDATE`,
      [customerId],
    );
    const erasedAt = rows[0]?.erased_at;
    if (erasedAt) return { erasedAt, already: true };
    await tx.query(
      `INSERT INTO ${KEYRING_SCHEMA}.data_keys (customer_id, key_id, wrapped, erased_at) VALUES ($1, $2, NULL, $3)
       ON CONFLICT (customer_id) DO UPDATE SET wrapped = NULL, erased_at = EXCLUDED.erased_at`,
      [customerId, this.newKeyId(), at],
    );
    return { erasedAt: at, already: false };
  }

  /** Whether the customer's key was destroyed. */
  async isErased(db: Queryable, customerId: string): Promise<boolean> {
    const rows = await this.rowsOf(db, [customerId]);
    return rows[0]?.wrapped === null;
  }
}
