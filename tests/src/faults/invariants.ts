import type pg from 'pg';

export type Invariant = { name: string; ok: boolean; detail: string; offending: string[] };

type Sql = Pick<pg.Pool, 'query'>;

/** The events that email their customer (services/notification/src/notifications/notification.ts). */
export const NOTIFIABLE_EVENT_TYPES = [
  'OrderCompleted',
  'OrderCancelled',
  'ShipmentDispatched',
  'ShipmentDelivered',
  'IncidentReported',
  'ComplaintOpened',
  'ComplaintAssigned',
  'ComplaintResolved',
  'ComplaintClosed',
  'PaymentRefunded',
] as const;

/** What the fault run read from outside the database: Mailpit's messages and the audit trail's own verification. */
export type Outside = {
  /** The Message-ID of every message Mailpit holds (one entry per message). */
  mailpitMessageIds: string[];
  auditVerify: { ok: boolean; checked: number; to: number; firstBroken: unknown };
};

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
  outside: Outside,
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

  // A replacement parcel (an incident resolved RESHIP) takes its lines from stock a second time.
  const products = await rows<{ id: string; available: number; reserved: number; sold: number; reshipped: number }>(
    sql,
    `SELECT p.id, p.available, p.reserved,
            coalesce((SELECT sum((line->>'quantity')::int) FROM inventory.reservations r, jsonb_array_elements(r.lines) line
                      WHERE r.status = 'COMMITTED' AND line->>'productId' = p.id::text), 0)::int AS sold,
            coalesce((SELECT sum((line->>'quantity')::int) FROM inventory.reshipments r, jsonb_array_elements(r.lines) line
                      WHERE r.status = 'RESERVED' AND line->>'productId' = p.id::text), 0)::int AS reshipped
     FROM inventory.products p`,
  );
  const stockBroken = products
    .filter((p) => expected.stock.has(p.id))
    .filter((p) => p.reserved !== 0 || p.available + p.sold + p.reshipped !== expected.stock.get(p.id))
    .map(
      (p) =>
        `${p.id}: initial ${expected.stock.get(p.id)} != available ${p.available} + sold ${p.sold} + reshipped ${p.reshipped}, reserved ${p.reserved}`,
    );
  results.push(
    invariant(
      'stock conserved: initial = available + sold + reshipped, reserved = 0',
      stockBroken,
      `${products.length} products, ${products.reduce((sum, p) => sum + p.reshipped, 0)} units reshipped`,
    ),
  );

  const [money] = await rows<{ balances: string; sales: string; kept: string; refunds: string; given: string }>(
    sql,
    `SELECT (SELECT coalesce(sum(balance_cents), 0) FROM payment.customers) AS balances,
            (SELECT coalesce(sum(total_cents), 0) FROM sales.sales WHERE status = 'CONFIRMED') AS sales,
            (SELECT coalesce(sum(amount_cents - refunded_cents), 0) FROM payment.payments WHERE status = 'ACCEPTED') AS kept,
            (SELECT coalesce(sum(amount_cents), 0) FROM payment.payments WHERE status = 'REFUNDED') AS refunds,
            (SELECT coalesce(sum(refunded_cents), 0) FROM payment.payments WHERE status = 'ACCEPTED') AS given`,
  );
  const balances = Number(money?.balances);
  const sales = Number(money?.sales);
  const kept = Number(money?.kept);
  const given = Number(money?.given);
  results.push(
    invariant(
      'money conserved: opened = balances + payments kept (taken minus refunded); payments kept = confirmed sales - refunds given',
      balances + kept === expected.openedCents && kept === sales - given
        ? []
        : [`opened ${expected.openedCents} != balances ${balances} + kept ${kept}; sales ${sales} - refunds given ${given} != kept`],
      `balances ${balances}, sales ${sales}, cancellation refunds ${Number(money?.refunds)}, refund requests given ${given}`,
    ),
  );

  // The refunds of an order never exceed its payment: in payment's table, and summed over the event log.
  const overRefunded = await rows<{ order_id: string; paid: string; refunded: string }>(
    sql,
    `SELECT data->>'orderId' AS order_id,
            sum(CASE WHEN type = 'PaymentAccepted' THEN (data->>'amountCents')::bigint ELSE 0 END)::text AS paid,
            sum(CASE WHEN type = 'PaymentRefunded' THEN (data->>'amountCents')::bigint ELSE 0 END)::text AS refunded
     FROM eventstore.events WHERE valid AND type IN ('PaymentAccepted', 'PaymentRefunded') GROUP BY 1
     HAVING sum(CASE WHEN type = 'PaymentRefunded' THEN (data->>'amountCents')::bigint ELSE 0 END)
          > sum(CASE WHEN type = 'PaymentAccepted' THEN (data->>'amountCents')::bigint ELSE 0 END)
     UNION ALL SELECT order_id::text, amount_cents::text, refunded_cents::text FROM payment.payments WHERE refunded_cents > amount_cents`,
  );
  const [refundFigures] = await rows<{ requests: number; answered: number; refunded: number; rejected: number }>(
    sql,
    `SELECT count(*)::int AS requests, count(*) FILTER (WHERE status <> 'REQUESTED')::int AS answered,
            count(*) FILTER (WHERE status = 'REFUNDED')::int AS refunded, count(*) FILTER (WHERE status = 'REJECTED')::int AS rejected
     FROM support.refunds`,
  );
  results.push(
    invariant(
      'refunds never exceed payments, and every refund request is answered',
      [
        ...overRefunded.map((o) => `${o.order_id}: paid ${o.paid}, refunded ${o.refunded}`),
        ...(refundFigures && refundFigures.answered !== refundFigures.requests
          ? [`${refundFigures.requests - refundFigures.answered} refund requests unanswered`]
          : []),
      ],
      `${refundFigures?.requests ?? 0} refund requests: ${refundFigures?.refunded ?? 0} refunded, ${refundFigures?.rejected ?? 0} rejected`,
    ),
  );

  const complaints = await rows<{ id: string; status: string; escalation: string | null }>(
    sql,
    'SELECT id, status, escalation FROM support.complaints',
  );
  results.push(
    invariant(
      'every complaint ends RESOLVED or CLOSED, or is escalated',
      complaints.filter((c) => c.status !== 'RESOLVED' && c.status !== 'CLOSED' && c.escalation === null).map((c) => `${c.id} ${c.status}`),
      `${complaints.length} complaints, ${complaints.filter((c) => c.escalation !== null).length} escalated`,
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

  // Each effect at most once per order (a cancellation's refund included), each refund request's effects at most once
  // per refund, each complaint step at most once per complaint.
  const duplicates = await rows<{ order_id: string; type: string; n: number }>(
    sql,
    `SELECT data->>'orderId' AS order_id, type, count(DISTINCT id)::int AS n FROM eventstore.events
     WHERE valid AND (type IN ('StockReserved', 'StockReleased', 'StockCommitted', 'StockRestocked', 'PaymentAccepted',
                               'PaymentRefused', 'SaleConfirmed', 'SaleCancelled', 'OrderCompleted', 'OrderCancelled')
                      OR (type = 'PaymentRefunded' AND NOT data ? 'refundId'))
     GROUP BY 1, 2 HAVING count(DISTINCT id) > 1
     UNION ALL
     SELECT data->>'refundId', type, count(DISTINCT id)::int FROM eventstore.events
     WHERE valid AND type IN ('RefundRequested', 'PaymentRefunded', 'RefundRejected') AND data ? 'refundId'
     GROUP BY 1, 2 HAVING count(DISTINCT id) > 1
     UNION ALL
     SELECT data->>'refundId', 'refund answered twice', count(DISTINCT id)::int FROM eventstore.events
     WHERE valid AND type IN ('PaymentRefunded', 'RefundRejected') AND data ? 'refundId'
     GROUP BY 1 HAVING count(DISTINCT id) > 1
     UNION ALL
     SELECT data->>'complaintId', type, count(DISTINCT id)::int FROM eventstore.events
     WHERE valid AND type IN ('ComplaintOpened', 'ComplaintProcessingStarted', 'ComplaintResolved', 'ComplaintClosed', 'ComplaintEscalated')
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
  // Exactly one email per notifiable event: each such event of the store has one notification, settled (SENT, or
  // SUPPRESSED for want of an address or consent), and each SENT one is exactly one message in Mailpit, found by its
  // Message-ID; Mailpit holds nothing else.
  const notified = await rows<{ event_id: string; type: string; notifications: number; unsettled: number; sent_ids: string[] | null }>(
    sql,
    `SELECT e.id::text AS event_id, e.type, count(n.id)::int AS notifications,
            count(n.id) FILTER (WHERE n.status NOT IN ('SENT', 'SUPPRESSED'))::int AS unsettled,
            array_agg(n.message_id) FILTER (WHERE n.status = 'SENT') AS sent_ids
       FROM eventstore.events e LEFT JOIN notification.notifications n ON n.source_event_id = e.id
      WHERE e.valid AND e.type = ANY($1::text[]) GROUP BY e.id, e.type`,
    [[...NOTIFIABLE_EVENT_TYPES]],
  );
  const inMailpit = new Map<string, number>();
  for (const id of outside.mailpitMessageIds) inMailpit.set(id, (inMailpit.get(id) ?? 0) + 1);
  const sentIds = new Set(notified.flatMap((event) => event.sent_ids ?? []));
  const emailBroken = [
    ...notified.filter((event) => event.notifications !== 1).map((e) => `${e.type} ${e.event_id}: ${e.notifications} notifications`),
    ...notified.filter((event) => event.unsettled > 0).map((e) => `${e.type} ${e.event_id}: not SENT or SUPPRESSED`),
    ...[...sentIds].filter((id) => inMailpit.get(id) !== 1).map((id) => `${id}: ${inMailpit.get(id) ?? 0} messages in Mailpit`),
    ...[...inMailpit.keys()].filter((id) => !sentIds.has(id)).map((id) => `${id}: in Mailpit, no SENT notification`),
  ];
  results.push(
    invariant(
      'exactly one email per notifiable event (Mailpit, by Message-ID)',
      emailBroken,
      `${notified.length} notifiable events, ${sentIds.size} emails sent, ${outside.mailpitMessageIds.length} in Mailpit`,
    ),
  );

  results.push(
    invariant(
      'the audit chain verifies (hashes and checkpoint signatures)',
      outside.auditVerify.ok ? [] : [`first broken: ${JSON.stringify(outside.auditVerify.firstBroken)}`],
      `${outside.auditVerify.checked} entries checked`,
    ),
  );

  // The audit trail holds every event of the stream once (the mirror, verified against the stream above): the same
  // event id at the same stream sequence, nothing missing, nothing more.
  const auditGaps = await rows<{ problem: string }>(
    sql,
    `SELECT 'missing ' || e.position || ' ' || e.id AS problem FROM eventstore.events e
       LEFT JOIN audit.entries a ON a.event_id = e.id AND a.stream_sequence = e.position
      WHERE e.valid AND a.event_id IS NULL
     UNION ALL
     SELECT 'not in the stream ' || a.stream_sequence || ' ' || a.event_id FROM audit.entries a
       LEFT JOIN eventstore.events e ON e.id = a.event_id AND e.position = a.stream_sequence AND e.valid
      WHERE e.id IS NULL
     UNION ALL
     SELECT 'stream sequence ' || stream_sequence || ' appended ' || count(*) || ' times' FROM audit.entries
      GROUP BY stream_sequence HAVING count(*) > 1`,
  );
  const [auditCount] = await rows<{ entries: number }>(sql, 'SELECT count(*)::int AS entries FROM audit.entries');
  results.push(
    invariant(
      'the audit trail holds every acknowledged event exactly once (against the mirror)',
      auditGaps.map((gap) => gap.problem),
      `${auditCount?.entries ?? 0} entries`,
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
