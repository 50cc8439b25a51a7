/** How long a customer's just-placed order may take to reach the order list (the read model follows the events). */
const READ_MODEL_PATIENCE_MS = 3000;

/**
 * Whether a saga is one of the caller's orders: the event store's order list, asked with the caller's own token, holds
 * a customer's orders only, so an order with this correlation id in it is theirs. An order placed a moment ago may not
 * be listed yet: asked again for a few seconds before the answer is no.
 */
export function sagaOwnership(eventStoreUrl: string, patienceMs = READ_MODEL_PATIENCE_MS) {
  return async function ownsSaga(authorization: string, correlationId: string): Promise<boolean> {
    const url = new URL('/api/orders', eventStoreUrl);
    url.searchParams.set('correlationId', correlationId);
    url.searchParams.set('limit', '1');
    const deadline = Date.now() + patienceMs;
    for (let attempt = 1; ; attempt++) {
      const response = await fetch(url, { headers: { authorization }, signal: AbortSignal.timeout(5000) });
      if (response.ok) {
        const { orders } = (await response.json()) as { orders: unknown[] };
        if (orders.length > 0) return true;
      } else if (response.status !== 403) {
        await response.body?.cancel();
        throw new Error(`the event store answered ${response.status} for the order list`);
      }
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, 500)));
    }
  };
}

/**
 * Whether a parcel is one of the caller's: shipping answers a customer their own parcel only (another's is a 403), so
 * its answer to the caller's own token says. Dispatch and delivery are an agent's commands, each a correlation of its
 * own: a customer follows their parcel by its aggregate (`aggregateType=shipment&aggregateId=<id>`).
 */
export function shipmentOwnership(shippingUrl: string) {
  return async function ownsShipment(authorization: string, shipmentId: string): Promise<boolean> {
    const response = await fetch(new URL(`/api/shipments/${encodeURIComponent(shipmentId)}`, shippingUrl), {
      headers: { authorization },
      signal: AbortSignal.timeout(5000),
    });
    await response.body?.cancel();
    if (response.ok) return true;
    if (response.status === 403 || response.status === 404 || response.status === 400) return false;
    throw new Error(`shipping answered ${response.status} for parcel ${shipmentId}`);
  };
}
