import { addressSchema, INCIDENT_KINDS, INCIDENT_RESOLUTIONS, orderLineSchema } from '@jetsaga/events';
import {
  actorOf,
  assertOwner,
  handleCommand,
  NotFoundError,
  pathId,
  type Principal,
  requestMetadata,
  type Routes,
  routes,
  type ServiceDeps,
} from '@jetsaga/platform';
import type { Context } from 'hono';
import { z } from 'zod';
import { deadlineInstant } from './deadlines.js';
import { recordShipmentEvents } from './metrics.js';
import { shipments } from './reactions.js';
import type { ShipmentCommand } from './shipment.js';
import { listShipments, loadShipment, shipmentView } from './store.js';

const STATUSES = ['CREATED', 'DISPATCHED', 'DELIVERED', 'INCIDENT', 'REPLACED', 'REFUNDED', 'CANCELLED'] as const;

const refundSchema = z.object({
  status: z.enum(['PENDING', 'REFUNDED', 'REJECTED']),
  amountCents: z.number().int(),
  refundId: z.uuid().optional(),
  reason: z.string().optional(),
});

const incidentSchema = z.object({
  incidentId: z.uuid(),
  kind: z.enum(INCIDENT_KINDS),
  description: z.string(),
  automatic: z.boolean().meta({ description: 'reported by the delivery deadline, not by a person' }),
  status: z.enum(['OPEN', 'RESHIP_REQUESTED', 'RESOLVED']),
  requested: z.enum(INCIDENT_RESOLUTIONS).optional(),
  resolution: z.enum(INCIDENT_RESOLUTIONS).optional(),
  note: z.string().optional(),
  amountCents: z.number().int().optional(),
  replacementShipmentId: z.uuid().optional(),
  reason: z.string().optional().meta({ description: 'why the resolution differs from the one requested (OUT_OF_STOCK)' }),
  refund: refundSchema.optional(),
});

const shipmentSchema = z.object({
  id: z.uuid(),
  orderId: z.uuid(),
  customerId: z.uuid(),
  status: z.enum(STATUSES),
  lines: z.array(orderLineSchema),
  address: addressSchema.optional(),
  replacesShipmentId: z.uuid().optional(),
  replacedBy: z.uuid().optional(),
  carrier: z.string().nullable(),
  trackingNumber: z.string().nullable(),
  deadlineAt: z.string().optional().meta({ description: 'when a DELAYED incident is reported by itself if not delivered' }),
  incidents: z.array(incidentSchema),
});

const timelineSchema = z.array(
  z.object({ eventId: z.uuid(), type: z.string(), occurredAt: z.string(), actor: z.string(), data: z.record(z.string(), z.unknown()) }),
);

const shipmentDetailSchema = shipmentSchema.extend({ timeline: timelineSchema, createdAt: z.string(), updatedAt: z.string() });

const listQuery = z.strictObject({
  orderId: z.uuid().optional(),
  customerId: z.uuid().optional(),
  status: z.enum(STATUSES).optional(),
  after: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const text = (max: number) => z.string().trim().min(1).max(max);
const dispatchBody = z.strictObject({ carrier: text(100), trackingNumber: text(100) });
const incidentBody = z.strictObject({ kind: z.enum(INCIDENT_KINDS), description: text(2000) });
const resolveBody = z.strictObject({ resolution: z.enum(INCIDENT_RESOLUTIONS), note: z.string().trim().max(2000).default('') });

const idParams = z.object({ id: pathId() });
const incidentParams = z.object({ id: pathId(), incidentId: pathId() });

const OPERATORS = ['agent', 'admin'] as const;
const WRONG_STATE = 'the parcel is not in a state that allows this; nothing changed';

export type ShipmentRoutesOptions = ServiceDeps & { deadlineMs: number };

export function shipmentRoutes(options: ShipmentRoutesOptions): Routes {
  const { db } = options;

  async function detail(id: string) {
    const found = await loadShipment(db, id);
    if (!found) throw new NotFoundError(`shipment ${id} does not exist`);
    return {
      ...shipmentView(found.shipment),
      timeline: found.timeline,
      createdAt: found.createdAt.toISOString(),
      updatedAt: found.updatedAt.toISOString(),
    };
  }

  /** A command of an operator on one parcel; the parcel as it is afterwards. */
  async function operate(c: Context, principal: Principal, id: string, command: ShipmentCommand) {
    const meta = requestMetadata(options, c.get('requestId'), actorOf(principal));
    recordShipmentEvents((await handleCommand(db, shipments, { id, command, meta }, options)).events);
    return c.json(await detail(id));
  }

  return routes()
    .add({
      method: 'get',
      path: '/api/shipments',
      summary: 'Parcels, in pages (filter by order, customer or status)',
      tags: ['shipments'],
      roles: ['customer', ...OPERATORS],
      ownership: 'A customer lists only their own parcels.',
      query: listQuery,
      responses: {
        200: {
          description: 'A page of parcels; `next` is the cursor of the following page (null on the last)',
          schema: z.object({ shipments: z.array(shipmentSchema), next: z.string().nullable() }),
        },
      },
      handler: async (c, { query, principal }) => {
        if (principal.role === 'customer' && query.customerId) assertOwner(principal, query.customerId, 'these parcels');
        const customerId = principal.role === 'customer' ? principal.subject : query.customerId;
        return c.json(await listShipments(db, { ...query, ...(customerId ? { customerId } : {}) }));
      },
    })
    .add({
      method: 'get',
      path: '/api/shipments/:id',
      summary: 'A parcel: status, carrier, tracking number, incidents and timeline',
      tags: ['shipments'],
      roles: ['customer', ...OPERATORS],
      ownership: 'A customer reads only their own parcels.',
      params: idParams,
      responses: { 200: { description: 'The parcel', schema: shipmentDetailSchema } },
      problems: { 404: 'no such parcel' },
      handler: async (c, { params, principal }) => {
        const shipment = await detail(params.id);
        assertOwner(principal, shipment.customerId, `shipment ${params.id}`);
        return c.json(shipment);
      },
    })
    .add({
      method: 'post',
      path: '/api/shipments/:id/dispatch',
      summary: 'Hand a parcel to a carrier (ShipmentDispatched); its delivery deadline starts',
      tags: ['shipments'],
      roles: OPERATORS,
      params: idParams,
      body: dispatchBody,
      responses: { 200: { description: 'The parcel, dispatched', schema: shipmentDetailSchema } },
      problems: { 404: 'no such parcel', 409: `${WRONG_STATE} (only a CREATED parcel with an address is dispatched)` },
      handler: (c, { params, body, principal }) => {
        const deadlineAt = deadlineInstant(options.now(), options.deadlineMs);
        return operate(c, principal, params.id, { type: 'Dispatch', ...body, deadlineAt });
      },
    })
    .add({
      method: 'post',
      path: '/api/shipments/:id/deliver',
      summary: 'Record that a parcel reached its customer (ShipmentDelivered)',
      tags: ['shipments'],
      roles: OPERATORS,
      params: idParams,
      responses: { 200: { description: 'The parcel, delivered', schema: shipmentDetailSchema } },
      problems: { 404: 'no such parcel', 409: `${WRONG_STATE} (only a DISPATCHED parcel is delivered)` },
      handler: (c, { params, principal }) => operate(c, principal, params.id, { type: 'Deliver' }),
    })
    .add({
      method: 'post',
      path: '/api/shipments/:id/incidents',
      summary: 'Report an incident: LOST or DELAYED in transit, DAMAGED in transit or on delivery (IncidentReported)',
      tags: ['shipments'],
      roles: OPERATORS,
      params: idParams,
      body: incidentBody,
      responses: {
        201: {
          description: 'The incident reported, and the parcel',
          schema: z.object({ incidentId: z.uuid(), shipment: shipmentDetailSchema }),
        },
      },
      problems: { 404: 'no such parcel', 409: `${WRONG_STATE} (one open incident at a time)` },
      handler: async (c, { params, body, principal }) => {
        const incidentId = options.newId();
        const meta = requestMetadata(options, c.get('requestId'), actorOf(principal));
        const command = { type: 'ReportIncident', incidentId, ...body, automatic: false } as const;
        recordShipmentEvents((await handleCommand(db, shipments, { id: params.id, command, meta }, options)).events);
        c.header('Location', `/api/shipments/${params.id}`);
        return c.json({ incidentId, shipment: await detail(params.id) }, 201);
      },
    })
    .add({
      method: 'post',
      path: '/api/shipments/:id/incidents/:incidentId/resolve',
      summary: 'Settle an open incident: RESHIP (a replacement parcel, if stock allows, else a refund), REFUND or NONE',
      tags: ['shipments'],
      roles: OPERATORS,
      params: incidentParams,
      body: resolveBody,
      responses: {
        200: {
          description: 'The parcel; a RESHIP shows the incident RESHIP_REQUESTED until inventory answered',
          schema: shipmentDetailSchema,
        },
      },
      problems: { 404: 'no such parcel or incident', 409: `${WRONG_STATE} (the incident is already resolved)` },
      handler: (c, { params, body, principal }) =>
        operate(c, principal, params.id, { type: 'ResolveIncident', incidentId: params.incidentId, ...body }),
    });
}
