import { waitFor } from '@jetsaga/devstack';
import type { Api, ApiResponse } from './api.js';

export type Address = { line1: string; line2?: string; city: string; postalCode: string; country: string };

export type Incident = {
  incidentId: string;
  kind: 'LOST' | 'DAMAGED' | 'DELAYED';
  automatic: boolean;
  status: 'OPEN' | 'RESHIP_REQUESTED' | 'RESOLVED';
  requested?: 'RESHIP' | 'REFUND' | 'NONE';
  resolution?: 'RESHIP' | 'REFUND' | 'NONE';
  amountCents?: number;
  replacementShipmentId?: string;
  reason?: string;
  refund?: { status: 'PENDING' | 'REFUNDED' | 'REJECTED'; amountCents: number; refundId?: string; reason?: string };
};

export type Shipment = {
  id: string;
  orderId: string;
  customerId: string;
  status: 'CREATED' | 'DISPATCHED' | 'DELIVERED' | 'INCIDENT' | 'REPLACED' | 'REFUNDED' | 'CANCELLED';
  lines: Array<{ productId: string; quantity: number; priceCents: number }>;
  address?: Address;
  replacesShipmentId?: string;
  replacedBy?: string;
  carrier: string | null;
  trackingNumber: string | null;
  incidents: Incident[];
  timeline: Array<{ type: string; occurredAt: string; actor: string }>;
};

export const HOME: Address = { line1: '1 rue de la Paix', city: 'Paris', postalCode: '75002', country: 'FR' };

async function expectOk<T>(response: Promise<ApiResponse<T>>, what: string): Promise<T> {
  const { status, body } = await response;
  if (status >= 300) throw new Error(`${what} -> ${status} ${JSON.stringify(body)}`);
  return body;
}

/** Parcels through the gateway, as an operator (the default admin client) or a customer uses them. */
export function shippingApi(api: Api) {
  const shipping = {
    /** A customer with a postal address. */
    customer: (balanceCents: number, address: Address = HOME) =>
      expectOk<{ id: string; balanceCents: number; address?: Address }>(
        api.call('POST', '/api/customers', {
          name: 'Parcel Customer',
          email: `p${Math.random().toString(36).slice(2)}@example.org`,
          balanceCents,
          address,
        }),
        'POST /api/customers',
      ),
    /** One cart with one line, checked out (to `shippingAddress` when given): the order id. */
    buy: async (customerId: string, productId: string, quantity: number, shippingAddress?: Address) => {
      const cart = await api.cart(customerId);
      await api.addItem(cart.id, productId, quantity);
      const body = shippingAddress ? { shippingAddress } : undefined;
      return (await expectOk<{ orderId: string }>(api.call('POST', `/api/carts/${cart.id}/checkout`, body), 'checkout')).orderId;
    },
    get: (id: string) => expectOk<Shipment>(api.call('GET', `/api/shipments/${id}`), `GET /api/shipments/${id}`),
    list: (query: string) =>
      expectOk<{ shipments: Shipment[]; next: string | null }>(api.call('GET', `/api/shipments?${query}`), `GET /api/shipments?${query}`),
    /** The live parcel of an order, once shipping opened it. */
    of: (orderId: string, timeoutMs = 30_000) =>
      waitFor(
        `a parcel for order ${orderId}`,
        async () => {
          const { shipments } = await shipping.list(`orderId=${orderId}`);
          return shipments.find((shipment) => shipment.status !== 'REPLACED');
        },
        timeoutMs,
        50,
      ),
    /** The parcel once `done` says it settled. */
    until: (id: string, what: string, done: (shipment: Shipment) => boolean, timeoutMs = 30_000) =>
      waitFor(
        `shipment ${id} ${what}`,
        async () => {
          const shipment = await shipping.get(id);
          return done(shipment) ? shipment : undefined;
        },
        timeoutMs,
        50,
      ),
    dispatch: (id: string, carrier = 'La Poste', trackingNumber = `LP${Date.now()}`) =>
      api.call<Shipment>('POST', `/api/shipments/${id}/dispatch`, { carrier, trackingNumber }),
    deliver: (id: string) => api.call<Shipment>('POST', `/api/shipments/${id}/deliver`),
    report: (id: string, kind: 'LOST' | 'DAMAGED' | 'DELAYED', description = `${kind.toLowerCase()} parcel`) =>
      api.call<{ incidentId: string; shipment: Shipment }>('POST', `/api/shipments/${id}/incidents`, { kind, description }),
    resolve: (id: string, incidentId: string, resolution: 'RESHIP' | 'REFUND' | 'NONE', note = 'settled') =>
      api.call<Shipment>('POST', `/api/shipments/${id}/incidents/${incidentId}/resolve`, { resolution, note }),
  };
  return shipping;
}

export type ShippingApi = ReturnType<typeof shippingApi>;
