import { materialize } from '@jetsaga/events';
import { enqueueEvents, NotFoundError, readJson, type ServiceDeps, uuidParam, withTransaction } from '@jetsaga/platform';
import { Hono } from 'hono';
import { z } from 'zod';

const registerBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(320),
  balanceCents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

type CustomerRow = { id: string; name: string; email: string; balance_cents: number };

function customerView(row: CustomerRow) {
  return { id: row.id, name: row.name, email: row.email, balanceCents: row.balance_cents };
}

export function customerRoutes({ db, now, newId }: ServiceDeps): Hono {
  const app = new Hono();

  app.post('/api/customers', async (c) => {
    const body = await readJson(c, registerBody);
    const customerId = newId();
    const row: CustomerRow = { id: customerId, name: body.name, email: body.email, balance_cents: body.balanceCents };
    await withTransaction(db, async (tx) => {
      await tx.query('INSERT INTO customers (id, name, email, balance_cents) VALUES ($1, $2, $3, $4)', [
        row.id,
        row.name,
        row.email,
        row.balance_cents,
      ]);
      const drafts = [{ type: 'CustomerRegistered' as const, data: { customerId, ...body } }];
      await enqueueEvents(
        tx,
        materialize(drafts, customerId, {
          correlationId: newId(),
          causationId: c.get('requestId'),
          actor: 'api',
          occurredAt: now().toISOString(),
          newId,
        }),
      );
    });
    return c.json(customerView(row), 201);
  });

  app.get('/api/customers/:id', async (c) => {
    const id = uuidParam(c, 'id', 'customer');
    const { rows } = await db.query<CustomerRow>('SELECT id, name, email, balance_cents FROM customers WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundError(`customer ${id} does not exist`);
    return c.json(customerView(rows[0]));
  });

  return app;
}
