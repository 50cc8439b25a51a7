import type { DomainEvent } from '@jetsaga/events';
import { counter, type Db, gauge, sharedRead } from '@jetsaga/platform';

const parcelEvents = counter({
  name: 'jetsaga_shipment_events_total',
  help: 'What happened to parcels, by event type (ShipmentCreated, ShipmentDispatched, ShipmentDelivered, IncidentReported, IncidentResolved...) and, for incidents, kind or resolution.',
  labelNames: ['type', 'detail'] as const,
});

/** Counted once committed: a rolled-back attempt changed no parcel. */
export function recordShipmentEvents(events: readonly DomainEvent[]): void {
  for (const event of events) {
    const detail =
      event.type === 'IncidentReported'
        ? `${event.data.kind}${event.data.automatic ? '_AUTOMATIC' : ''}`
        : event.type === 'IncidentResolved'
          ? event.data.resolution
          : 'none';
    parcelEvents.inc({ type: event.type, detail });
  }
}

/** How long past its delivery deadline a dispatched parcel counts as overdue: the deadline should have reported it. */
const OVERDUE_GRACE_SECONDS = 60;

/**
 * Parcels by status and the overdue ones (still DISPATCHED a minute after their deadline: the DELAYED incident did
 * not fire), read at each scrape. Every replica reports the same figures: dashboards and alerts take the max.
 */
export function watchShipments(db: Db): void {
  const figures = sharedRead(async () => {
    const { rows } = await db.query<{ status: string; count: number; overdue: number }>(
      `SELECT status, count(*)::int AS count,
              (count(*) FILTER (WHERE status = 'DISPATCHED' AND (state->>'deadlineAt')::timestamptz < now() - make_interval(secs => $1)))::int AS overdue
       FROM shipments GROUP BY status`,
      [OVERDUE_GRACE_SECONDS],
    );
    return rows;
  });
  gauge({
    name: 'jetsaga_shipments',
    help: 'Parcels by status (CREATED, DISPATCHED, DELIVERED, INCIDENT, REPLACED, REFUNDED, CANCELLED).',
    labelNames: ['status'] as const,
    async collect() {
      this.reset();
      for (const row of await figures()) this.set({ status: row.status }, row.count);
    },
  });
  gauge({
    name: 'jetsaga_shipments_overdue',
    help: `Parcels still DISPATCHED ${OVERDUE_GRACE_SECONDS} s after their delivery deadline (no DELAYED incident fired).`,
    async collect() {
      this.set((await figures()).reduce((sum, row) => sum + row.overdue, 0));
    },
  });
}
