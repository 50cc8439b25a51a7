import {
  type CommandHandler,
  handleCommand,
  lockRows,
  NotFoundError,
  readJson,
  requestMetadata,
  type ServiceDeps,
  uuidParam,
} from '@jetsaga/platform';
import { type Address, addressSchema } from '@jetsaga/events';
import { Hono } from 'hono';
import { z } from 'zod';
import { type Customer, type CustomerEvent, decideCustomer, evolveCustomer, initialCustomer, type RegisterCustomer } from './customer.js';

const registerBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(320),
  balanceCents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  address: z.strictObject(addressSchema.shape).optional(),
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

export function customerRoutes(deps: ServiceDeps): Hono {
  const { db } = deps;
  const app = new Hono();

  app.post('/api/customers', async (c) => {
    const body = await readJson(c, registerBody);
    const customerId = deps.newId();
    const command: RegisterCustomer = { type: 'RegisterCustomer', customerId, ...body };
    const { state } = await handleCommand(
      db,
      customers,
      { id: customerId, command, meta: requestMetadata(deps, c.get('requestId')) },
      deps,
    );
    if (state.status === 'NONE') throw new Error('unreachable: a registered customer exists');
    return c.json(customerView(state), 201);
  });

  app.get('/api/customers/:id', async (c) => {
    const id = uuidParam(c, 'id', 'customer');
    const { rows } = await db.query<CustomerRow>(`${SELECT} WHERE id = $1`, [id]);
    if (!rows[0]) throw new NotFoundError(`customer ${id} does not exist`);
    const { id: found, name, email, balance_cents: balanceCents, address } = rows[0];
    return c.json({ id: found, name, email, balanceCents, ...(address ? { address } : {}) });
  });

  return app;
}
