// The HTTP shape jetsaga's gateway offers a shopper, for the benchmark peers, so the same k6 script drives them:
// POST /api/carts {customerId} -> 201 cart, POST /api/carts/:id/items {productId, quantity} -> 200 cart,
// POST /api/carts/:id/checkout -> 202 {orderId}. Errors are problem+json with jetsaga's status codes. The checkout
// commits the order, then starts its saga through `startSaga`; a saga a crash kept from starting is started at the
// next start-up (`pendingOrders`), as jetsaga's outbox relay sweeps what a crash left unpublished.
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { placeOrder } from './store.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class Problem extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function body(request) {
  let text = '';
  for await (const chunk of request) {
    text += chunk;
    if (text.length > 65_536) throw new Problem(413, 'body too large');
  }
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new Problem(400, 'body is not JSON');
  }
}

function send(response, status, value, headers = {}) {
  const text = JSON.stringify(value);
  response.writeHead(status, {
    'content-type': status >= 400 ? 'application/problem+json' : 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

const cartView = (row) => ({ id: row.id, customerId: row.customer_id, status: row.status, items: row.items });

/** Serves the shop on `port` (loopback); resolves with the server once it listens. */
export function serveShop({ pool, port, startSaga, name }) {
  const routes = [
    [
      'POST',
      /^\/api\/carts$/,
      async (request) => {
        const { customerId } = await body(request);
        if (typeof customerId !== 'string' || !UUID.test(customerId)) throw new Problem(400, 'customerId must be a UUID');
        const { rows } = await pool.query(
          "INSERT INTO carts (id, customer_id, status) SELECT $1, id, 'OPEN' FROM customers WHERE id = $2 RETURNING *",
          [randomUUID(), customerId],
        );
        if (rows.length === 0) throw new Problem(422, `customer ${customerId} does not exist`);
        return [201, cartView(rows[0])];
      },
    ],
    [
      'POST',
      /^\/api\/carts\/([^/]+)\/items$/,
      async (request, cartId) => {
        const { productId, quantity } = await body(request);
        if (!UUID.test(cartId)) throw new Problem(400, 'cart id must be a UUID');
        if (typeof productId !== 'string' || !UUID.test(productId)) throw new Problem(400, 'productId must be a UUID');
        if (!Number.isInteger(quantity) || quantity < 1 || quantity > 10_000) throw new Problem(400, 'quantity must be 1-10000');
        const { rows } = await pool.query(
          `UPDATE carts SET items = items || jsonb_build_array(jsonb_build_object('productId', p.id, 'quantity', $3::int, 'priceCents', p.price_cents))
           FROM products p WHERE carts.id = $1 AND carts.status = 'OPEN' AND p.id = $2 RETURNING carts.*`,
          [cartId, productId, quantity],
        );
        if (rows.length === 1) return [200, cartView(rows[0])];
        const cart = await pool.query('SELECT status FROM carts WHERE id = $1', [cartId]);
        if (cart.rows.length === 0) throw new Problem(404, `cart ${cartId} does not exist`);
        if (cart.rows[0].status !== 'OPEN') throw new Problem(409, `cart ${cartId} is already checked out`);
        throw new Problem(422, `product ${productId} does not exist`);
      },
    ],
    [
      'POST',
      /^\/api\/carts\/([^/]+)\/checkout$/,
      async (_request, cartId) => {
        if (!UUID.test(cartId)) throw new Problem(400, 'cart id must be a UUID');
        const placed = await placeOrder(pool, { cartId, orderId: randomUUID(), placedAtMs: Date.now() });
        if (placed.problem) throw new Problem(placed.problem, placed.detail);
        await startSaga(placed.order);
        return [202, { orderId: placed.order.orderId }, { location: `/api/orders/${placed.order.orderId}` }];
      },
    ],
    [
      'GET',
      /^\/api\/orders\/([^/]+)$/,
      async (_request, orderId) => {
        if (!UUID.test(orderId)) throw new Problem(400, 'order id must be a UUID');
        const { rows } = await pool.query('SELECT id, status, reason, total_cents FROM orders WHERE id = $1', [orderId]);
        if (rows.length === 0) throw new Problem(404, `order ${orderId} does not exist`);
        return [200, { id: rows[0].id, status: rows[0].status, reason: rows[0].reason, totalCents: Number(rows[0].total_cents) }];
      },
    ],
    ['GET', /^\/health$/, async () => [200, { status: 'ok', peer: name }]],
  ];
  const server = createServer(async (request, response) => {
    try {
      const path = request.url.split('?')[0];
      for (const [method, pattern, handle] of routes) {
        const match = pattern.exec(path);
        if (!match || request.method !== method) continue;
        const [status, value, headers] = await handle(request, ...match.slice(1));
        return send(response, status, value, headers);
      }
      throw new Problem(404, `no route for ${request.method} ${path}`);
    } catch (error) {
      const status = error instanceof Problem ? error.status : 500;
      if (status === 500) console.error(`[${name}] ${request.method} ${request.url}: ${error.stack ?? error}`);
      send(response, status, {
        type: 'about:blank',
        title: status === 500 ? 'Internal Server Error' : 'Bad request',
        status,
        detail: error.message,
      });
    }
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
