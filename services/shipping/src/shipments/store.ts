import type { Address } from '@jetsaga/events';
import { type Change, lockRows, type Tx, ValidationError } from '@jetsaga/platform';
import type { Destination, Shipment, ShipmentCommand, ShipmentStatus } from './shipment.js';

type ShipmentRow = { id: string; state: Shipment };

/** Many parcels, row-locked in id order (two batches over the same parcels never deadlock). */
export async function loadShipments(tx: Tx, ids: readonly string[]): Promise<Map<string, Shipment>> {
  const shipments = await lockRows(tx, { table: 'shipments', key: 'id', columns: 'id, state' }, ids, (row: ShipmentRow) => row.state);
  const unknown = ids.filter((id) => !shipments.has(id));
  if (unknown.length === 0) return shipments;
  const { rows } = await tx.query<{ id: string }>('SELECT id FROM voided_shipments WHERE id = ANY($1::uuid[])', [unknown]);
  for (const { id } of rows) shipments.set(id, { status: 'VOIDED', id });
  return shipments;
}

/**
 * Every changed parcel and the events that changed it (its timeline) in one statement: the parcel rows are upserted,
 * the events appended to the timeline.
 */
export async function saveShipments(tx: Tx, changes: readonly Change<Shipment>[]): Promise<void> {
  const voided = changes.flatMap(({ state }) => (state.status === 'VOIDED' ? [state.id] : []));
  if (voided.length > 0) await tx.query('INSERT INTO voided_shipments (id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING', [voided]);
  const saved = changes.flatMap(({ state }) => (state.status === 'NONE' || state.status === 'VOIDED' ? [] : [state]));
  if (saved.length === 0) return;
  const events = changes.flatMap((change) => change.events);
  await tx.query(
    `WITH saved AS (
       INSERT INTO shipments (id, order_id, customer_id, status, replaces_shipment_id, state)
       SELECT v.id, v.order_id, v.customer_id, v.status, v.replaces, v.state::jsonb
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::text[]) AS v(id, order_id, customer_id, status, replaces, state)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, state = EXCLUDED.state, updated_at = now()
     )
     INSERT INTO shipment_timeline (event_id, shipment_id, type, occurred_at, actor, data)
     SELECT e.event_id, e.shipment_id, e.type, e.occurred_at, e.actor, e.data::jsonb
     FROM unnest($7::uuid[], $8::uuid[], $9::text[], $10::timestamptz[], $11::text[], $12::text[]) AS e(event_id, shipment_id, type, occurred_at, actor, data)
     ON CONFLICT (event_id) DO NOTHING`,
    [
      saved.map((state) => state.id),
      saved.map((state) => state.orderId),
      saved.map((state) => state.customerId),
      saved.map((state) => state.status),
      saved.map((state) => state.replacesShipmentId ?? null),
      saved.map((state) => JSON.stringify(state)),
      events.map((event) => event.id),
      events.map((event) => event.aggregateId),
      events.map((event) => event.type),
      events.map((event) => event.occurredAt),
      events.map((event) => event.actor),
      events.map((event) => JSON.stringify(event.data)),
    ],
  );
}

/**
 * Where the parcels these commands open go, read once for the batch: a sale's parcel from the checkout's address,
 * else the customer's (shipping's read model); a replacement from the parcel it replaces.
 */
export async function loadDestinations(
  tx: Pick<Tx, 'query'>,
  commands: ReadonlyArray<{ command: ShipmentCommand }>,
): Promise<Map<string, Destination>> {
  const opens = commands.flatMap(({ command }) => (command.type === 'OpenShipment' ? [command] : []));
  const destinations = new Map<string, Destination>();
  if (opens.length === 0) return destinations;
  const sales = opens.filter((open) => !open.replacesShipmentId && open.customerId);
  const replaced = opens.flatMap((open) => (open.replacesShipmentId ? [open.replacesShipmentId] : []));
  const { rows } = await tx.query<{ key: string; customer_id: string; address: Address | null }>(
    `SELECT v.order_id::text AS key, v.customer_id::text AS customer_id, coalesce(o.address, c.address) AS address
       FROM unnest($1::uuid[], $2::uuid[]) AS v(order_id, customer_id)
       LEFT JOIN order_addresses o ON o.order_id = v.order_id
       LEFT JOIN customer_addresses c ON c.customer_id = v.customer_id
     UNION ALL
     SELECT s.id::text, s.customer_id::text, s.state->'address' FROM shipments s WHERE s.id = ANY($3::uuid[])`,
    [sales.map((open) => open.orderId), sales.map((open) => open.customerId), replaced],
  );
  for (const row of rows) destinations.set(row.key, { customerId: row.customer_id, ...(row.address ? { address: row.address } : {}) });
  return destinations;
}

export type TimelineEntry = { eventId: string; type: string; occurredAt: string; actor: string; data: unknown };

export async function loadShipment(
  db: Pick<Tx, 'query'>,
  id: string,
): Promise<{ shipment: Shipment & { status: ShipmentStatus }; timeline: TimelineEntry[]; createdAt: Date; updatedAt: Date } | undefined> {
  const { rows } = await db.query<{
    state: Shipment & { status: ShipmentStatus };
    created_at: Date;
    updated_at: Date;
    timeline: TimelineEntry[];
  }>(
    `SELECT s.state, s.created_at, s.updated_at,
            coalesce((SELECT jsonb_agg(jsonb_build_object('eventId', t.event_id, 'type', t.type, 'occurredAt', t.occurred_at, 'actor', t.actor, 'data', t.data)
                      ORDER BY t.event_id) FROM shipment_timeline t WHERE t.shipment_id = s.id), '[]'::jsonb) AS timeline
       FROM shipments s WHERE s.id = $1`,
    [id],
  );
  const row = rows[0];
  return row && { shipment: row.state, timeline: row.timeline, createdAt: row.created_at, updatedAt: row.updated_at };
}

export function shipmentView(shipment: Shipment & { status: ShipmentStatus }) {
  const { id, orderId, customerId, status, lines, address, replacesShipmentId, carrier, trackingNumber, deadlineAt, incidents } = shipment;
  const replacedBy = incidents.find((incident) => incident.replacementShipmentId)?.replacementShipmentId;
  return {
    id,
    orderId,
    customerId,
    status,
    lines,
    ...(address ? { address } : {}),
    ...(replacesShipmentId ? { replacesShipmentId } : {}),
    ...(replacedBy ? { replacedBy } : {}),
    carrier: carrier ?? null,
    trackingNumber: trackingNumber ?? null,
    ...(deadlineAt ? { deadlineAt } : {}),
    incidents: incidents.map(({ resumes: _resumes, ...incident }) => incident),
  };
}

export type ShipmentFilter = { orderId?: string; customerId?: string; status?: ShipmentStatus; after?: string; limit: number };

/** A page of parcels in id order; `next` is the cursor of the following page, null on the last one. */
export async function listShipments(db: Pick<Tx, 'query'>, filter: ShipmentFilter) {
  const params: unknown[] = [];
  const where: string[] = [];
  if (filter.orderId) where.push(`order_id = $${params.push(filter.orderId)}`);
  if (filter.customerId) where.push(`customer_id = $${params.push(filter.customerId)}`);
  if (filter.status) where.push(`status = $${params.push(filter.status)}`);
  if (filter.after) where.push(`id > $${params.push(decodeCursor(filter.after))}`);
  const { rows } = await db.query<{ id: string; state: Shipment & { status: ShipmentStatus } }>(
    `SELECT id, state FROM shipments ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT $${params.push(filter.limit + 1)}`,
    params,
  );
  const page = rows.slice(0, filter.limit);
  const last = page[page.length - 1];
  return {
    shipments: page.map((row) => shipmentView(row.state)),
    next: rows.length > filter.limit && last ? Buffer.from(JSON.stringify({ s: last.id })).toString('base64url') : null,
  };
}

function decodeCursor(cursor: string): string {
  try {
    const { s } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s: unknown };
    if (typeof s === 'string' && /^[0-9a-f-]{36}$/.test(s)) return s;
  } catch {
    // reported below
  }
  throw new ValidationError('the cursor is not one this API returned', [{ field: 'after', reason: 'invalid cursor' }]);
}
