import type pg from 'pg';

export type Invariant = { name: string; ok: boolean; detail: string; offending: string[] };

type Sql = Pick<pg.Pool, 'query'>;

async function rows<T extends pg.QueryResultRow>(sql: Sql, text: string, params: unknown[] = []): Promise<T[]> {
  return (await sql.query<T>(text, params)).rows;
}

function invariant(name: string, offending: string[], detail: string): Invariant {
  return { name, ok: offending.length === 0, detail, offending: offending.slice(0, 20) };
}

/**
 * The invariants a saga system must keep whatever happened to its processes: read from the services' own tables and
 * the event store, after everything settled.
 */
export async function checkInvariants(
  sql: Sql,
  expected: { orders: number; stock: Map<string, number>; openedCents: number; poison: Set<string> },
  mirror: { ok: boolean; missing: number[]; extra: number[]; count: number },
  deadLetters: Array<{ reason: string | null; payload: unknown }>,
): Promise<Invariant[]> {
  const results: Invariant[] = [];

  const orders = await rows<{ id: string; status: string }>(sql, 'SELECT id, status FROM orders.orders');
  const stuck = orders.filter((order) => order.status !== 'COMPLETED' && order.status !== 'CANCELLED').map((order) => order.id);
  results.push(
    invariant(
      'every order is COMPLETED or CANCELLED',
      orders.length === expected.orders ? stuck : [...stuck, `expected ${expected.orders} orders, found ${orders.length}`],
      `${orders.length} orders, ${orders.filter((o) => o.status === 'COMPLETED').length} completed, ${orders.filter((o) => o.status === 'CANCELLED').length} cancelled`,
    ),
  );

  const products = await rows<{ id: string; available: number; reserved: number; sold: number }>(
    sql,
    `SELECT p.id, p.available, p.reserved,
            coalesce((SELECT sum((line->>'quantity')::int) FROM inventory.reservations r, jsonb_array_elements(r.lines) line
                      WHERE r.status = 'COMMITTED' AND line->>'productId' = p.id::text), 0)::int AS sold
     FROM inventory.products p`,
  );
  const stockBroken = products
    .filter((p) => expected.stock.has(p.id))
    .filter((p) => p.reserved !== 0 || p.available + p.sold !== expected.stock.get(p.id))
    .map((p) => `${p.id}: initial ${expected.stock.get(p.id)} != available ${p.available} + sold ${p.sold}, reserved ${p.reserved}`);
  results.push(invariant('stock conserved: initial = available + sold, reserved = 0', stockBroken, `${products.length} products`));

  const [money] = await rows<{ balances: string; sales: string; kept: string; refunds: string }>(
    sql,
    `SELECT (SELECT coalesce(sum(balance_cents), 0) FROM payment.customers) AS balances,
            (SELECT coalesce(sum(total_cents), 0) FROM sales.sales WHERE status = 'CONFIRMED') AS sales,
            (SELECT coalesce(sum(amount_cents), 0) FROM payment.payments WHERE status = 'ACCEPTED') AS kept,
            (SELECT coalesce(sum(amount_cents), 0) FROM payment.payments WHERE status = 'REFUNDED') AS refunds`,
  );
  const balances = Number(money?.balances);
  const sales = Number(money?.sales);
  const kept = Number(money?.kept);
  results.push(
    invariant(
      'money conserved: opened = balances + confirmed sales; payments kept = confirmed sales',
      balances + sales === expected.openedCents && kept === sales
        ? []
        : [`opened ${expected.openedCents} != balances ${balances} + sales ${sales}; kept payments ${kept}`],
      `balances ${balances}, sales ${sales}, refunds ${Number(money?.refunds)}`,
    ),
  );

  const perOrder = await rows<{ id: string; status: string; payment: string | null; sale: string | null; reservation: string | null }>(
    sql,
    `SELECT o.id, o.status, p.status AS payment, s.status AS sale, r.status AS reservation
     FROM orders.orders o
     LEFT JOIN payment.payments p ON p.order_id = o.id
     LEFT JOIN sales.sales s ON s.order_id = o.id
     LEFT JOIN inventory.reservations r ON r.order_id = o.id`,
  );
  const inconsistent = perOrder
    .filter((o) =>
      o.status === 'COMPLETED'
        ? o.payment !== 'ACCEPTED' || o.sale !== 'CONFIRMED' || o.reservation !== 'COMMITTED'
        : o.payment === 'ACCEPTED' || o.sale === 'CONFIRMED' || o.reservation === 'RESERVED' || o.reservation === 'COMMITTED',
    )
    .map((o) => `${o.id} ${o.status}: payment ${o.payment}, sale ${o.sale}, reservation ${o.reservation}`);
  results.push(invariant('each order agrees with its payment, sale and reservation', inconsistent, `${perOrder.length} orders`));

  const duplicates = await rows<{ order_id: string; type: string; n: number }>(
    sql,
    `SELECT data->>'orderId' AS order_id, type, count(DISTINCT id)::int AS n FROM eventstore.events
     WHERE valid AND type IN ('StockReserved', 'StockReleased', 'StockCommitted', 'StockRestocked', 'PaymentAccepted',
                              'PaymentRefused', 'PaymentRefunded', 'SaleConfirmed', 'SaleCancelled', 'OrderCompleted', 'OrderCancelled')
     GROUP BY 1, 2 HAVING count(DISTINCT id) > 1`,
  );
  const [copies] = await rows<{ rows: number; ids: number }>(
    sql,
    'SELECT count(*)::int AS rows, count(DISTINCT id)::int AS ids FROM eventstore.events WHERE valid',
  );
  results.push(
    invariant(
      'no duplicate effects: each effect event at most once per order, each event id stored once',
      [
        ...duplicates.map((d) => `${d.order_id}: ${d.type} x${d.n}`),
        ...(copies && copies.rows !== copies.ids ? [`${copies.rows - copies.ids} event ids stored twice`] : []),
      ],
      `${copies?.ids ?? 0} events`,
    ),
  );

  results.push(
    invariant(
      'every acknowledged event is in the mirror exactly once (verify)',
      mirror.ok ? [] : [...mirror.missing.map((p) => `missing ${p}`), ...mirror.extra.map((p) => `extra ${p}`)],
      `${mirror.count} stream messages compared`,
    ),
  );

  const markers = deadLetters.map((letter) => (typeof letter.payload === 'string' ? letter.payload : JSON.stringify(letter.payload)));
  const unexpected = deadLetters.filter((letter, i) => letter.reason !== 'poison' || !expected.poison.has(markers[i] as string));
  const missingPoison = [...expected.poison].filter((marker) => !markers.includes(marker));
  results.push(
    invariant(
      'every poison message is in the DLQ, and nothing else',
      [
        ...unexpected.map((letter) => `unexpected ${letter.reason}: ${JSON.stringify(letter.payload).slice(0, 120)}`),
        ...missingPoison.map((m) => `missing ${m}`),
      ],
      `${deadLetters.length} dead letters, ${expected.poison.size} poison injected`,
    ),
  );

  // A parcel is live until a replacement took over (REPLACED), its sale was cancelled (CANCELLED) or it was refunded.
  const parcels = await rows<{ id: string; status: string; live: number; refunded: number }>(
    sql,
    `SELECT o.id, o.status,
            count(s.id) FILTER (WHERE s.status NOT IN ('REPLACED', 'CANCELLED', 'REFUNDED'))::int AS live,
            count(s.id) FILTER (WHERE s.status = 'REFUNDED')::int AS refunded
     FROM orders.orders o LEFT JOIN shipping.shipments s ON s.order_id = o.id GROUP BY o.id, o.status`,
  );
  const parcelBroken = parcels
    .filter((o) => (o.status === 'COMPLETED' ? o.live + o.refunded !== 1 : o.live !== 0))
    .map((o) => `${o.id} ${o.status}: ${o.live} live parcels, ${o.refunded} refunded`);
  results.push(
    invariant(
      'every completed order has exactly one live parcel (or a refund), no cancelled order has one',
      parcelBroken,
      `${parcels.filter((o) => o.live + o.refunded > 0).length} orders with a parcel`,
    ),
  );
  return results;
}

export function formatTable(results: Invariant[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  return results
    .map((r) => `${r.ok ? 'PASS' : 'FAIL'}  ${r.name.padEnd(width)}  ${r.detail}${r.ok ? '' : `\n      ${r.offending.join('\n      ')}`}`)
    .join('\n');
}
