import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Badge, ErrorNote, SearchInput, SearchSelect, Section, useCursor } from '../../components/ui.js';
import { api, query } from '../../lib/api.js';
import { shortId } from '../../lib/format.js';
import { Link, useLocation } from '../../lib/router.js';

type Shipment = {
  id: string;
  orderId: string;
  customerId: string;
  status: string;
  carrier: string | null;
  trackingNumber: string | null;
  incidents: { incidentId: string; kind: string; status: string }[];
};

const STATUSES = ['CREATED', 'DISPATCHED', 'DELIVERED', 'INCIDENT', 'REPLACED', 'REFUNDED', 'CANCELLED'];

function Actions({ shipment }: { shipment: Shipment }) {
  const client = useQueryClient();
  const [carrier, setCarrier] = useState('La Poste');
  const done = { onSuccess: () => void client.invalidateQueries({ queryKey: ['shipments'] }) };
  const dispatch = useMutation({
    mutationFn: () =>
      api(`/api/shipments/${shipment.id}/dispatch`, {
        method: 'POST',
        body: { carrier, trackingNumber: `TRK-${shipment.id.slice(0, 8)}` },
      }),
    ...done,
  });
  const deliver = useMutation({ mutationFn: () => api(`/api/shipments/${shipment.id}/deliver`, { method: 'POST' }), ...done });
  return (
    <span className="actions">
      {shipment.status === 'CREATED' ? (
        <>
          <input
            aria-label={`Carrier for ${shortId(shipment.id)}`}
            value={carrier}
            onChange={(event) => setCarrier(event.target.value)}
            size={10}
          />
          <button type="button" onClick={() => dispatch.mutate()} disabled={dispatch.isPending}>
            Dispatch
          </button>
        </>
      ) : null}
      {shipment.status === 'DISPATCHED' ? (
        <button type="button" onClick={() => deliver.mutate()} disabled={deliver.isPending}>
          Delivered
        </button>
      ) : null}
      <ErrorNote error={dispatch.error ?? deliver.error} />
    </span>
  );
}

export default function Shipments() {
  const { search } = useLocation();
  const status = search.get('status') ?? '';
  const orderId = search.get('orderId') ?? '';
  const cursor = useCursor();
  const list = useQuery({
    queryKey: ['shipments', status, orderId, cursor.after],
    queryFn: () =>
      api<{ shipments: Shipment[]; next: string | null }>(`/api/shipments${query({ status, orderId, after: cursor.after, limit: 50 })}`),
  });
  return (
    <>
      <h1>Shipments</h1>
      <Section title="Filters">
        <form className="row" onSubmit={(event) => event.preventDefault()}>
          <SearchSelect label="Status" name="status" value={status} options={STATUSES} cursor={cursor} />
          <SearchInput label="Order id" name="orderId" value={orderId} cursor={cursor} />
        </form>
      </Section>
      <Section title="Parcels">
        <ErrorNote error={list.error} />
        <table>
          <thead>
            <tr>
              <th scope="col">Parcel</th>
              <th scope="col">Order</th>
              <th scope="col">Status</th>
              <th scope="col">Carrier</th>
              <th scope="col">Tracking</th>
              <th scope="col">Incidents</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data?.shipments.map((shipment) => (
              <tr key={shipment.id} data-id={shipment.id}>
                <td>
                  <code>{shortId(shipment.id)}</code>
                </td>
                <td>
                  <Link href={`/orders/${shipment.orderId}`}>
                    <code>{shortId(shipment.orderId)}</code>
                  </Link>
                </td>
                <td>
                  <Badge value={shipment.status} />
                </td>
                <td>{shipment.carrier ?? '—'}</td>
                <td>{shipment.trackingNumber ?? '—'}</td>
                <td>{shipment.incidents.map((incident) => `${incident.kind} ${incident.status}`).join(', ') || '—'}</td>
                <td>
                  <Actions shipment={shipment} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {cursor.pager(list.data?.next)}
      </Section>
    </>
  );
}
