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
  type ServiceDeps,
} from '@jetsaga/platform';
import { z } from 'zod';
import { type Customer, type CustomerEvent, decideCustomer, evolveCustomer, initialCustomer, type RegisterCustomer } from './customer.js';

const registerBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(320),
  balanceCents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  address: z.strictObject(addressSchema.shape).optional(),
  locale: z.enum(LOCALES).optional().meta({ description: 'the language of their emails (default en)' }),
});

type CustomerRow = { id: string; name: string; email: string; balance_cents: number; address: Address | null };

const fromRow = (row: CustomerRow): Customer => ({
  status: 'REGISTERED',
  id: row.id,
  name: row.name,
  email: row.email,
  balanceCents: row.balance_cents,
  ...(row.address ? { address: row.address } : {}),
});

function customerView({ id, name, email, balanceCents, address }: Customer & { status: 'REGISTERED' }) {
  return { id, name, email, balanceCents, ...(address ? { address } : {}) };
}

const SELECT = 'SELECT id, name, email, balance_cents, address FROM customers';

export const customers: CommandHandler<Customer, RegisterCustomer, CustomerEvent> = {
  initialState: initialCustomer,
  load: (tx, ids) => lockRows(tx, { table: 'customers', key: 'id', columns: 'id, name, email, balance_cents, address' }, ids, fromRow),
  decide: decideCustomer,
  evolve: evolveCustomer,
  async save(tx, changes) {
    for (const { state } of changes) {
      if (state.status === 'NONE') continue;
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
  name: z.string(),
  email: z.string(),
  balanceCents: z.number().int(),
  address: addressSchema.optional().meta({ description: 'the postal address parcels go to by default' }),
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
        const { id, name, email, balance_cents: balanceCents, address } = rows[0];
        return c.json({ id, name, email, balanceCents, ...(address ? { address } : {}) });
      },
    });
}
