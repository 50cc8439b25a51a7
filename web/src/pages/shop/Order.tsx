import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useState } from 'react';
import { Badge, ErrorNote, Section } from '../../components/ui.js';
import { api } from '../../lib/api.js';
import { money, shortId, time } from '../../lib/format.js';
import { Link } from '../../lib/router.js';
import { COMPENSATIONS, stepLabel } from '../../lib/saga.js';
import { isOperator, useSession } from '../../lib/session.js';
import { type StreamEvent, useEventStream } from '../../lib/stream.js';

export type Order = {
  id: string;
  customerId: string;
  status: 'PENDING' | 'COMPLETED' | 'CANCELLED';
  reason?: string;
  lines: { productId: string; quantity: number; priceCents: number }[];
  totalCents: number;
  correlationId: string;
};

type Shipment = {
  id: string;
  status: string;
  carrier: string | null;
  trackingNumber: string | null;
  incidents: { kind: string; status: string }[];
};

/** The saga's steps as they arrive, keyed by stream sequence: a step replayed after a reconnect is not shown twice. */
function useSagaSteps(order: Order | undefined) {
  const session = useSession();
  const client = useQueryClient();
  const [steps, setSteps] = useState<Map<string, StreamEvent>>(new Map());
  const operator = isOperator(session);
  // An operator reads what already happened from the event store, then follows from there; a customer may not read
  // the event store, so their stream starts from the saga's beginning (from=start), filtered by its correlation id.
  const history = useQuery({
    queryKey: ['saga-events', order?.correlationId],
    enabled: operator && order !== undefined,
    queryFn: () =>
      api<{ events: (Omit<StreamEvent, 'seq'> & { position: number })[] }>(`/api/events?correlationId=${order!.correlationId}&limit=200`),
  });
  const historyEvents = history.data?.events ?? [];
  const after = operator ? historyEvents.reduce((max, event) => Math.max(max, event.position), 0) : undefined;
  const onEvent = useCallback(
    (event: StreamEvent) => {
      setSteps((previous) => new Map(previous).set(event.id, event));
      void client.invalidateQueries({ queryKey: ['order', event.correlationId] });
      void client.invalidateQueries({ queryKey: ['parcels'] });
    },
    [client],
  );
  const stream = useEventStream(
    {
      correlationId: order?.correlationId,
      ...(after === undefined ? { from: 'start' as const } : { after }),
      enabled: order !== undefined && (!operator || history.isSuccess),
      // A customer's order just placed may reach the read model the gateway asks after its patience: ask again.
      forbiddenRetries: 4,
    },
    onEvent,
  );
  const all = new Map<string, StreamEvent>(historyEvents.map((event) => [event.id, { ...event, seq: event.position }]));
  for (const [id, event] of steps) all.set(id, event);
  return { steps: [...all.values()].sort((a, b) => a.seq - b.seq), stream, onEvent };
}

/**
 * A parcel's events as they arrive. Dispatch and delivery are an agent's commands, each with a correlation of its own:
 * they are followed by the parcel's aggregate (the gateway lets a customer follow their own parcels), from its start.
 */
function FollowParcel({ shipmentId, onEvent }: { shipmentId: string; onEvent: (event: StreamEvent) => void }) {
  const stream = useEventStream({ aggregateType: 'shipment', aggregateId: shipmentId, from: 'start', forbiddenRetries: 2 }, onEvent);
  return (
    <span className={`live ${stream.state}`} data-testid="parcel-stream">
      parcel {stream.state}
    </span>
  );
}

export function OrderPage({ orderId }: { orderId: string }) {
  const session = useSession();
  const order = useQuery({
    queryKey: ['order', orderId],
    queryFn: () => api<Order>(`/api/orders/${orderId}`),
    // The stream refreshes it on every step; this only covers a stream that cannot connect.
    refetchInterval: (query) => (query.state.data?.status === 'PENDING' ? 3000 : false),
  });
  const { steps, stream, onEvent } = useSagaSteps(order.data);
  const parcels = useQuery({
    queryKey: ['parcels', orderId],
    enabled: order.data?.status === 'COMPLETED',
    queryFn: () => api<{ shipments: Shipment[] }>(`/api/shipments?orderId=${orderId}`),
  });
  return (
    <>
      <h1>
        Order <code>{shortId(orderId)}</code>
      </h1>
      <ErrorNote error={order.error} />
      {order.data ? (
        <div className="grid2">
          <Section title="Order">
            <p className="status-line">
              <span data-testid="order-status">
                <Badge value={order.data.status} />
              </span>
              {order.data.reason ? <span className="reason">{order.data.reason}</span> : null}
            </p>
            <p>
              {order.data.lines.reduce((sum, line) => sum + line.quantity, 0)} item(s), total {money(order.data.totalCents)}
            </p>
            {isOperator(session) ? <Link href={`/ops/sagas/${order.data.correlationId}`}>Its saga</Link> : null}
            <h3>Parcel</h3>
            {order.data.status !== 'COMPLETED' ? <p>No parcel for an order that is not completed.</p> : null}
            {parcels.data?.shipments.map((parcel) => (
              <dl key={parcel.id} className="facts" aria-label="Parcel">
                <dt>Status</dt>
                <dd>
                  <Badge value={parcel.status} />
                </dd>
                <dt>Carrier</dt>
                <dd>{parcel.carrier ?? 'not dispatched yet'}</dd>
                <dt>Tracking</dt>
                <dd>{parcel.trackingNumber ?? '—'}</dd>
                {parcel.incidents.length > 0 ? (
                  <>
                    <dt>Incidents</dt>
                    <dd>{parcel.incidents.map((incident) => `${incident.kind} (${incident.status})`).join(', ')}</dd>
                  </>
                ) : null}
              </dl>
            ))}
            <Link
              href={`/complaints/new?orderId=${orderId}&customerId=${order.data.customerId}${parcels.data?.shipments[0] ? `&shipmentId=${parcels.data.shipments[0].id}` : ''}`}
            >
              Open a complaint about this order
            </Link>
          </Section>
          <Section
            title="Saga, live"
            actions={
              <span className="actions">
                <span className={`live ${stream.state}`} data-testid="saga-stream">
                  {stream.state}
                </span>
                {parcels.data?.shipments.map((parcel) => (
                  <FollowParcel key={parcel.id} shipmentId={parcel.id} onEvent={onEvent} />
                ))}
              </span>
            }
          >
            <ol className="steps" aria-label="Saga steps" aria-live="polite">
              {steps.map((step) => (
                <li key={step.id} data-type={step.type} className={COMPENSATIONS.has(step.type) ? 'compensation' : undefined}>
                  <span className="step-name">{stepLabel(step.type)}</span>
                  <span className="step-meta">
                    {step.type} · {step.aggregateType} · {time(step.occurredAt)}
                  </span>
                </li>
              ))}
            </ol>
            {steps.length === 0 ? <p>Waiting for the first event…</p> : null}
          </Section>
        </div>
      ) : null}
    </>
  );
}
