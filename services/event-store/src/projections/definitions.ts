import type { DomainEvent, EventType } from '@jetsaga/events';
import type { RowOp } from './ops.js';
import { shipmentsByStatus } from './shipping.js';
import { complaintViews, refundsDaily } from './support.js';

export type TableSpec = { columns: string; key: readonly string[] };

/**
 * A read model: its tables (created per version, so a rebuild builds beside the live one) and a pure function from
 * one event to row operations.
 */
export type ProjectionDefinition = {
  name: string;
  description: string;
  tables: Readonly<Record<string, TableSpec>>;
  /** Every type `project` does something with: a rebuild reads only these from the mirror. */
  eventTypes: readonly EventType[];
  project(event: DomainEvent): RowOp[];
};

/** The UTC day of an instant, whatever offset it was written with. */
const day = (iso: string) => (iso.endsWith('Z') ? iso : new Date(iso).toISOString()).slice(0, 10);

export const orderSummaries: ProjectionDefinition = {
  name: 'order-summaries',
  description: 'One row per order: status, reason, total; answers GET /api/orders.',
  tables: {
    orders: {
      columns: `order_id uuid NOT NULL, customer_id uuid, status text, reason text, total_cents bigint NOT NULL DEFAULT 0,
                line_count integer NOT NULL DEFAULT 0, correlation_id uuid, placed_at timestamptz, ended_at timestamptz`,
      key: ['order_id'],
    },
  },
  eventTypes: ['OrderPlaced', 'OrderCompleted', 'OrderCancelled'],
  project(event) {
    switch (event.type) {
      case 'OrderPlaced':
        return [
          {
            table: 'orders',
            key: { order_id: event.data.orderId },
            set: {
              customer_id: event.data.customerId,
              status: 'PENDING',
              total_cents: event.data.totalCents,
              line_count: event.data.lines.length,
              correlation_id: event.correlationId,
              placed_at: event.occurredAt,
            },
          },
        ];
      case 'OrderCompleted':
        return [{ table: 'orders', key: { order_id: event.data.orderId }, set: { status: 'COMPLETED', ended_at: event.occurredAt } }];
      case 'OrderCancelled':
        return [
          {
            table: 'orders',
            key: { order_id: event.data.orderId },
            set: { status: 'CANCELLED', reason: event.data.reason, ended_at: event.occurredAt },
          },
        ];
      default:
        return [];
    }
  },
};

export const salesDaily: ProjectionDefinition = {
  name: 'sales-daily',
  description: 'Units, revenue and orders per product and per day (UTC) of confirmed sales.',
  tables: {
    sales: {
      columns: `day date NOT NULL, product_id uuid NOT NULL, quantity bigint NOT NULL DEFAULT 0,
                revenue_cents bigint NOT NULL DEFAULT 0, orders bigint NOT NULL DEFAULT 0`,
      key: ['day', 'product_id'],
    },
  },
  eventTypes: ['SaleConfirmed', 'SaleCancelled'],
  project(event) {
    if (event.type !== 'SaleConfirmed' && event.type !== 'SaleCancelled') return [];
    // A cancelled sale comes off the day it is cancelled, so a closed day's figures never change.
    const sign = event.type === 'SaleConfirmed' ? 1 : -1;
    return event.data.lines.map((line) => ({
      table: 'sales',
      key: { day: day(event.occurredAt), product_id: line.productId },
      add: { quantity: sign * line.quantity, revenue_cents: sign * line.quantity * line.priceCents, orders: sign },
    }));
  },
};

export const stockLevels: ProjectionDefinition = {
  name: 'stock-levels',
  description: 'Available, reserved and sold units per product.',
  tables: {
    stock: {
      columns: `product_id uuid NOT NULL, sku text, name text, price_cents bigint, available bigint NOT NULL DEFAULT 0,
                reserved bigint NOT NULL DEFAULT 0, sold bigint NOT NULL DEFAULT 0`,
      key: ['product_id'],
    },
  },
  eventTypes: ['ProductCreated', 'StockReserved', 'StockReleased', 'StockCommitted', 'StockRestocked', 'ReshipmentStockReserved'],
  project(event) {
    const lines = (
      sign: { available: number; reserved: number; sold: number },
      list: ReadonlyArray<{ productId: string; quantity: number }>,
    ) =>
      list.map((line) => ({
        table: 'stock',
        key: { product_id: line.productId },
        add: { available: sign.available * line.quantity, reserved: sign.reserved * line.quantity, sold: sign.sold * line.quantity },
      }));
    switch (event.type) {
      case 'ProductCreated':
        return [
          {
            table: 'stock',
            key: { product_id: event.data.productId },
            set: { sku: event.data.sku, name: event.data.name, price_cents: event.data.priceCents },
            add: { available: event.data.stock },
          },
        ];
      case 'StockReserved':
        return lines({ available: -1, reserved: 1, sold: 0 }, event.data.lines);
      case 'StockReleased':
        return lines({ available: 1, reserved: -1, sold: 0 }, event.data.lines);
      case 'StockCommitted':
        return lines({ available: 0, reserved: -1, sold: 1 }, event.data.lines);
      case 'StockRestocked':
        return lines({ available: 1, reserved: 0, sold: -1 }, event.data.lines);
      // A replacement parcel's units leave the shelf with it.
      case 'ReshipmentStockReserved':
        return lines({ available: -1, reserved: 0, sold: 1 }, event.data.lines);
      default:
        return [];
    }
  },
};

const SAGA_EVENTS = new Set<EventType>([
  'OrderPlaced',
  'StockReserved',
  'StockUnavailable',
  'StockReleased',
  'StockCommitted',
  'PaymentAccepted',
  'PaymentRefused',
  'PaymentRefunded',
  'SaleConfirmed',
  'SaleCancelled',
  'StockRestocked',
  'OrderCompleted',
  'OrderCancelled',
]);

export const sagaTimelines: ProjectionDefinition = {
  name: 'saga-timelines',
  description: 'One row per saga: its order, outcome, start, end and number of steps.',
  tables: {
    sagas: {
      columns: `correlation_id uuid NOT NULL, order_id uuid, customer_id uuid, outcome text, reason text, started_at timestamptz,
                ended_at timestamptz, steps integer NOT NULL DEFAULT 0, last_type text`,
      key: ['correlation_id'],
    },
  },
  eventTypes: [...SAGA_EVENTS],
  project(event) {
    if (!SAGA_EVENTS.has(event.type)) return [];
    const op: RowOp = { table: 'sagas', key: { correlation_id: event.correlationId }, set: { last_type: event.type }, add: { steps: 1 } };
    if (event.type === 'OrderPlaced') {
      op.set = {
        ...op.set,
        order_id: event.data.orderId,
        customer_id: event.data.customerId,
        outcome: 'PENDING',
        started_at: event.occurredAt,
      };
    } else if (event.type === 'OrderCompleted') {
      op.set = { ...op.set, outcome: 'COMPLETED', ended_at: event.occurredAt };
    } else if (event.type === 'OrderCancelled') {
      op.set = { ...op.set, outcome: 'CANCELLED', reason: event.data.reason, ended_at: event.occurredAt };
    }
    return [op];
  },
};

export const PROJECTIONS: readonly ProjectionDefinition[] = [
  orderSummaries,
  salesDaily,
  stockLevels,
  sagaTimelines,
  complaintViews,
  refundsDaily,
  shipmentsByStatus,
];
