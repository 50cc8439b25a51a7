import type { DomainEvent } from '@jetsaga/events';
import { NotFoundError, type Routes, routes, type ServiceDeps, ValidationError } from '@jetsaga/platform';
import { z } from 'zod';
import { asCurrent, selectEvents, type StoredEvent } from '../events/stored.js';
import { cartFold, complaintFold, customerFold, type Fold, orderFold, productFold, replay, shipmentFold } from './folds.js';

const stateQuery = z
  .strictObject({
    version: z.coerce.number().int().min(1).optional(),
    asOf: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((query) => !(query.version !== undefined && query.asOf !== undefined), {
    message: 'give version or asOf, not both',
    path: ['version'],
  });

type Rebuilder = {
  fold: (id: string) => Fold<unknown>;
  /** The events that shape this aggregate's state, in stream order. */
  events: (deps: Pick<ServiceDeps, 'db'>, id: string) => Promise<StoredEvent[]>;
};

const ownEvents = (aggregateType: string) => (deps: Pick<ServiceDeps, 'db'>, id: string) =>
  selectEvents(deps.db, 'aggregate_type = $1 AND aggregate_id = $2', [aggregateType, id]);

export const REBUILDERS: Record<string, Rebuilder> = {
  order: { fold: () => orderFold as Fold<unknown>, events: ownEvents('order') },
  cart: { fold: () => cartFold as Fold<unknown>, events: ownEvents('cart') },
  shipment: { fold: () => shipmentFold as Fold<unknown>, events: ownEvents('shipment') },
  product: {
    fold: (id) => productFold(id) as Fold<unknown>,
    events: (deps, id) =>
      selectEvents(
        deps.db,
        `((aggregate_type = 'product' AND aggregate_id = $1)
          OR (type IN ('StockReserved', 'StockReleased', 'StockCommitted', 'StockRestocked', 'ReshipmentStockReserved') AND data->'lines' @> jsonb_build_array(jsonb_build_object('productId', $1::text))))`,
        [id],
      ),
  },
  // A complaint's own events and the refund it (or the incident it was opened for, whose id it has) asked for.
  complaint: {
    fold: () => complaintFold as Fold<unknown>,
    events: (deps, id) =>
      selectEvents(
        deps.db,
        `((aggregate_type = 'complaint' AND aggregate_id = $1)
          OR (type IN ('RefundRequested', 'PaymentRefunded', 'RefundRejected') AND (data->>'complaintId' = $1 OR data->>'incidentId' = $1)))`,
        [id],
      ),
  },
  customer: {
    fold: (id) => customerFold(id) as Fold<unknown>,
    events: (deps, id) =>
      selectEvents(
        deps.db,
        `((aggregate_type = 'customer' AND aggregate_id = $1) OR (type IN ('PaymentAccepted', 'PaymentRefunded') AND data->>'customerId' = $1))`,
        [id],
      ),
  },
};

/** Replays events up to a version or an instant. Older schema versions are upcast on the way. */
export function stateRoutes(deps: Pick<ServiceDeps, 'db' | 'keyring'>): Routes {
  return routes().add({
    method: 'get',
    path: '/api/aggregates/:aggregateType/:aggregateId/state',
    summary: "An aggregate's state rebuilt by replaying its events, now or as of a version or an instant",
    tags: ['events'],
    roles: ['agent', 'admin'],
    params: z.object({
      aggregateType: z
        .string()
        .min(1)
        .max(100)
        .meta({ description: `one of ${Object.keys(REBUILDERS).join(', ')}` }),
      aggregateId: z.string().min(1).max(200),
    }),
    query: stateQuery,
    responses: {
      200: {
        description: 'The state after that many events',
        schema: z.object({ aggregateType: z.string(), aggregateId: z.string(), version: z.number().int(), state: z.unknown() }),
      },
    },
    problems: { 404: 'no events for this aggregate (at that version or instant)' },
    handler: async (c, { params, query }) => {
      const { aggregateType, aggregateId } = params;
      const rebuilder = REBUILDERS[aggregateType];
      if (!rebuilder) {
        throw new ValidationError(`no state rebuild for ${aggregateType}`, [
          { field: 'aggregateType', reason: `one of ${Object.keys(REBUILDERS).join(', ')}` },
        ]);
      }
      const stored = await rebuilder.events(deps, aggregateId.toLowerCase());
      if (stored.length === 0) throw new NotFoundError(`no events for ${aggregateType} ${aggregateId}`);
      let upTo = stored;
      if (query.version !== undefined) {
        if (query.version > stored.length)
          throw new NotFoundError(`${aggregateType} ${aggregateId} has ${stored.length} events, not ${query.version}`);
        upTo = stored.slice(0, query.version);
      } else if (query.asOf !== undefined) {
        const asOf = Date.parse(query.asOf);
        upTo = stored.filter((event) => Date.parse(event.occurredAt) <= asOf);
        if (upTo.length === 0) throw new NotFoundError(`${aggregateType} ${aggregateId} did not exist at ${query.asOf}`);
      }
      // A rebuild is a reader that holds the keys: personal fields read in plaintext, `[erased]` after an erasure (ADR 0052).
      const opened = await deps.keyring.open(deps.db, upTo);
      const events = opened.map(asCurrent).filter((event): event is DomainEvent & { position: number } => event !== undefined);
      return c.json({ aggregateType, aggregateId, version: upTo.length, state: replay(rebuilder.fold(aggregateId.toLowerCase()), events) });
    },
  });
}
