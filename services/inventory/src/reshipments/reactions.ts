import { type DomainEvent, EVENTS_STREAM, eventTypeFilter, type OrderLine } from '@jetsaga/events';
import { type Addressed, type CommandHandler, lockRows, type Reaction, reactionConsumers, type Tx } from '@jetsaga/platform';
import { lockStock, moveStock } from '../products/store.js';
import type { StockLevels } from '../reservations/reservation.js';
import {
  decideReshipment,
  evolveReshipment,
  type Reshipment,
  type ReshipmentEvent,
  type ReserveReshipment,
  reshipmentDeltas,
} from './reshipment.js';

export const INVENTORY_RESHIPMENTS_CONSUMER = 'inventory-reshipments';

/** A reshipment asked for by shipping, addressed to its incident (one replacement per incident). */
export function commandFor(event: DomainEvent): Addressed<ReserveReshipment> | undefined {
  if (event.type !== 'ReshipmentRequested') return undefined;
  const { incidentId, shipmentId, orderId, lines } = event.data;
  return { id: incidentId, command: { type: 'ReserveReshipment', incidentId, shipmentId, orderId, lines } };
}

type ReshipmentRow = { incident_id: string; shipment_id: string; order_id: string; status: 'RESERVED' | 'UNAVAILABLE'; lines: OrderLine[] };

const RESHIPMENTS = { table: 'reshipments', key: 'incident_id', columns: 'incident_id, shipment_id, order_id, status, lines' };

async function saveReshipments(tx: Tx, states: readonly Reshipment[]): Promise<void> {
  const saved = states.flatMap((state) => (state.status === 'NONE' ? [] : [state]));
  if (saved.length === 0) return;
  await tx.query(
    `INSERT INTO reshipments (incident_id, shipment_id, order_id, status, lines)
     SELECT v.incident_id, v.shipment_id, v.order_id, v.status, v.lines::jsonb
     FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS v(incident_id, shipment_id, order_id, status, lines)
     ON CONFLICT (incident_id) DO NOTHING`,
    [
      saved.map((s) => s.incidentId),
      saved.map((s) => s.shipmentId),
      saved.map((s) => s.orderId),
      saved.map((s) => s.status),
      saved.map((s) => JSON.stringify(s.lines)),
    ],
  );
}

/** Reshipments per incident, deciding over the stock levels of their products (shared by the whole batch). */
export const reshipments: CommandHandler<Reshipment, ReserveReshipment, ReshipmentEvent, StockLevels> = {
  initialState: { status: 'NONE' },
  load: (tx, ids) =>
    lockRows(tx, RESHIPMENTS, ids, (row: ReshipmentRow): Reshipment => ({
      status: row.status,
      incidentId: row.incident_id,
      shipmentId: row.shipment_id,
      orderId: row.order_id,
      lines: row.lines,
    })),
  decide: (state, command, stock) => decideReshipment(state, stock, command),
  evolve: evolveReshipment,
  shared: {
    load: (tx, commands) => lockStock(tx, [...new Set(commands.flatMap(({ command }) => command.lines.map((line) => line.productId)))]),
    evolve: (stock, event) => {
      const next = new Map(stock);
      for (const delta of reshipmentDeltas(event)) {
        const level = next.get(delta.productId) ?? { available: 0, reserved: 0 };
        next.set(delta.productId, { available: level.available + delta.available, reserved: level.reserved + delta.reserved });
      }
      return next;
    },
  },
  async save(tx, changes) {
    await saveReshipments(
      tx,
      changes.map((change) => change.state),
    );
    await moveStock(
      tx,
      changes.flatMap((change) => change.events.flatMap((event) => reshipmentDeltas(event as unknown as ReshipmentEvent))),
    );
  },
};

export const reshipmentReaction: Reaction<DomainEvent, Reshipment, ReserveReshipment> = {
  spec: { stream: EVENTS_STREAM, durable: INVENTORY_RESHIPMENTS_CONSUMER, filterSubjects: [eventTypeFilter('ReshipmentRequested')] },
  react: commandFor,
  actor: 'inventory-service',
  handler: reshipments,
};

/** The consumers this slice runs. */
export const reshipmentConsumers = reactionConsumers(reshipmentReaction);
