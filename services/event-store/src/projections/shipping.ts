import type { ProjectionDefinition } from './definitions.js';
import type { RowOp } from './ops.js';

/**
 * Parcels as the event store reads them (issue 14): one row per parcel. `status` is the one the last event set, or
 * null after an incident resolved NONE: the parcel is then back where it was, which its dispatch and delivery times
 * say (SHIPMENT_STATUS below), so the projection stays a pure function of each event.
 */
export const shipmentsByStatus: ProjectionDefinition = {
  name: 'shipments-by-status',
  description: 'One row per parcel: status, carrier, tracking, incidents, times; answers GET /api/reports/shipments.',
  tables: {
    shipments: {
      columns: `shipment_id uuid NOT NULL, order_id uuid, customer_id uuid, status text, replaces_shipment_id uuid, carrier text,
                tracking_number text, incidents integer NOT NULL DEFAULT 0, refunded_cents bigint NOT NULL DEFAULT 0,
                correlation_id uuid, created_at timestamptz, dispatched_at timestamptz, delivered_at timestamptz,
                updated_at timestamptz`,
      key: ['shipment_id'],
    },
  },
  eventTypes: [
    'ShipmentCreated',
    'ShipmentCancelled',
    'ShipmentDispatched',
    'ShipmentDelivered',
    'IncidentReported',
    'IncidentResolved',
    'ShipmentRefunded',
  ],
  project(event) {
    const parcel = (shipmentId: string, set: Record<string, string | number | null>, add?: Record<string, number>): RowOp[] => [
      { table: 'shipments', key: { shipment_id: shipmentId }, set: { ...set, updated_at: event.occurredAt }, ...(add ? { add } : {}) },
    ];
    switch (event.type) {
      case 'ShipmentCreated': {
        const d = event.data;
        return parcel(d.shipmentId, {
          order_id: d.orderId,
          customer_id: d.customerId,
          status: 'CREATED',
          replaces_shipment_id: d.replacesShipmentId ?? null,
          correlation_id: event.correlationId,
          created_at: event.occurredAt,
        });
      }
      case 'ShipmentCancelled':
        return parcel(event.data.shipmentId, { status: 'CANCELLED' });
      case 'ShipmentDispatched':
        return parcel(event.data.shipmentId, {
          status: 'DISPATCHED',
          carrier: event.data.carrier,
          tracking_number: event.data.trackingNumber,
          dispatched_at: event.occurredAt,
        });
      case 'ShipmentDelivered':
        return parcel(event.data.shipmentId, { status: 'DELIVERED', delivered_at: event.occurredAt });
      case 'IncidentReported':
        return parcel(event.data.shipmentId, { status: 'INCIDENT' }, { incidents: 1 });
      case 'IncidentResolved': {
        const status = event.data.resolution === 'RESHIP' ? 'REPLACED' : event.data.resolution === 'REFUND' ? 'INCIDENT' : null;
        return parcel(event.data.shipmentId, { status });
      }
      case 'ShipmentRefunded':
        return parcel(event.data.shipmentId, { status: 'REFUNDED' }, { refunded_cents: event.data.amountCents });
      default:
        return [];
    }
  },
};

/** A parcel's status from its row: the explicit one, or where an incident resolved NONE put it back. */
export const SHIPMENT_STATUS = `coalesce(status, CASE WHEN delivered_at IS NOT NULL THEN 'DELIVERED'
                                                     WHEN dispatched_at IS NOT NULL THEN 'DISPATCHED' ELSE 'CREATED' END)`;
