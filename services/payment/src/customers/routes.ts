import { type Address, addressSchema, LOCALES } from '@jetsaga/events';
import {
  actorOf,
  assertOwner,
  type CommandHandler,
  handleCommand,
  lockRows,
  NotFoundError,
  pathId,
  requestMetadata,
  type Routes,
  routes,
  runCommand,
  type ServiceDeps,
  withTransaction,
} from '@jetsaga/platform';
import { z } from 'zod';
import {
  type Customer,
  type CustomerCommand,
  type CustomerEvent,
  decideCustomer,
  evolveCustomer,
  initialCustomer,
  type RegisterCustomer,
} from './customer.js';

const registerBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(320),
  balanceCents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  address: z.strictObject(addressSchema.shape).optional(),
  locale: z.enum(LOCALES).optional().meta({ description: 'the language of their emails (default en)' }),
});

type CustomerRow = { id: string; name: string; email: string; balance_cents: number; address: Address | null; erased_at: Date | null };

const fromRow = (row: CustomerRow): Customer => ({
  status: 'REGISTERED',
  id: row.id,
  name: row.name,
  email: row.email,
  balanceCents: row.balance_cents,
  ...(row.address ? { address: row.address } : {}),
  ...(row.erased_at ? { erasedAt: row.erased_at.toISOString() } : {}),
});

function customerView({ id, name, email, balanceCents, address }: Customer & { status: 'REGISTERED' }) {
  return { id, name, email, balanceCents, ...(address ? { address } : {}) };
}

const COLUMNS = 'id, name, email, balance_cents, address, erased_at';
const SELECT = `SELECT ${COLUMNS} FROM customers`;

export const customers: CommandHandler<Customer, CustomerCommand, CustomerEvent> = {
  initialState: initialCustomer,
  load: (tx, ids) => lockRows(tx, { table: 'customers', key: 'id', columns: COLUMNS }, ids, fromRow),
  decide: decideCustomer,
  evolve: evolveCustomer,
  async save(tx, changes) {
    for (const { state, existed } of changes) {
      if (state.status === 'NONE') continue;
      if (existed) {
        // The only change to a customer this slice makes is their erasure: the personal columns are overwritten.
        await tx.query('UPDATE customers SET name = $2, email = $3, address = NULL, erased_at = $4, updated_at = now() WHERE id = $1', [
          state.id,
          state.name,
          state.email,
          state.erasedAt ?? null,
        ]);
        continue;
      }
      await tx.query('INSERT INTO customers (id, name, email, balance_cents, address) VALUES ($1, $2, $3, $4, $5::jsonb)', [
        state.id,
        state.name,
        state.email,
        state.balanceCents,
        state.address ? JSON.stringify(state.address) : null,
      ]);
    }
  },
};

const customerSchema = z.object({
  id: z.uuid(),
  name: z.string().meta({ description: '"[erased]" once the customer was erased' }),
  email: z.string().meta({ description: '"[erased]" once the customer was erased' }),
  balanceCents: z.number().int(),
  address: addressSchema.optional().meta({ description: 'the postal address parcels go to by default' }),
  erasedAt: z.iso.datetime({ offset: true }).optional().meta({ description: 'when their personal data was erased' }),
});

const erasureSchema = z.object({
  customerId: z.uuid(),
  erasedAt: z.iso.datetime({ offset: true }),
  alreadyErased: z.boolean().meta({ description: 'true when an earlier request had erased them: this one changed nothing' }),
});

export function customerRoutes(deps: ServiceDeps): Routes {
  const { db } = deps;
  return routes()
    .add({
      method: 'post',
      path: '/api/customers',
      summary: 'Open a customer account with its opening balance',
      description: "The identity provider then issues the customer's tokens with the returned id as `sub`.",
      tags: ['customers'],
      // The opening balance is money: a customer may not open their own account (ADR 0042).
      roles: ['admin'],
      body: registerBody,
      responses: { 201: { description: 'The customer, as registered', schema: customerSchema } },
      handler: async (c, { body, principal }) => {
        const customerId = deps.newId();
        const command: RegisterCustomer = { type: 'RegisterCustomer', customerId, ...body };
        const meta = requestMetadata(deps, c.get('requestId'), actorOf(principal));
        const { state } = await handleCommand(db, customers, { id: customerId, command, meta }, deps);
        if (state.status === 'NONE') throw new Error('unreachable: a registered customer exists');
        return c.json(customerView(state), 201);
      },
    })
    .add({
      method: 'get',
      path: '/api/customers/:id',
      summary: 'A customer: name, email and balance',
      tags: ['customers'],
      roles: ['customer', 'admin'],
      ownership: 'A customer reads only their own record.',
      params: z.object({ id: pathId() }),
      responses: { 200: { description: 'The customer', schema: customerSchema } },
      problems: { 404: 'no such customer' },
      handler: async (c, { params, principal }) => {
        const { rows } = await db.query<CustomerRow>(`${SELECT} WHERE id = $1`, [params.id]);
        if (!rows[0]) throw new NotFoundError(`customer ${params.id} does not exist`);
        assertOwner(principal, rows[0].id, `customer ${params.id}`);
        const { id, name, email, balance_cents: balanceCents, address, erased_at: erasedAt } = rows[0];
        return c.json({ id, name, email, balanceCents, ...(address ? { address } : {}), ...(erasedAt ? { erasedAt } : {}) });
      },
    })
    .add({
      method: 'post',
      path: '/api/customers/:id/erasure',
      summary: "Erase a customer's personal data (crypto-shredding)",
      description:
        "Destroys the customer's data key, so the name, email and address sealed in every event read `[erased]` from then " +
        'on; overwrites them here and emits CustomerErased, on which every service removes its own copies. Ids, money and ' +
        'stock stay. Idempotent: erasing again changes nothing. Copies outside the system are not reached (ADR 0052).',
      tags: ['customers'],
      roles: ['admin'],
      params: z.object({ id: pathId() }),
      // Nothing to say but the id: a body with fields is a mistake to answer, not to ignore.
      body: z.strictObject({}),
      bodyOptional: true,
      responses: { 200: { description: 'The customer is erased', schema: erasureSchema } },
      problems: { 404: 'no such customer' },
      handler: async (c, { params, principal }) => {
        const erasedAt = deps.now();
        const command: CustomerCommand = { type: 'EraseCustomer', customerId: params.id, erasedAt: erasedAt.toISOString() };
        const meta = requestMetadata(deps, c.get('requestId'), actorOf(principal));
        const result = await withTransaction(db, async (tx) => {
          const { state, events } = await runCommand(tx, customers, { id: params.id, command, meta }, deps);
          if (state.status === 'NONE' || !state.erasedAt) throw new Error('unreachable: an erased customer has erasedAt');
          // The key goes in the same transaction as the overwritten row and the CustomerErased event.
          await deps.keyring.erase(tx, params.id, new Date(state.erasedAt));
          return { customerId: params.id, erasedAt: state.erasedAt, alreadyErased: events.length === 0 };
        });
        deps.log.info({ customerId: result.customerId, alreadyErased: result.alreadyErased }, 'customer erased');
        return c.json(result, 200);
      },
    });
}
