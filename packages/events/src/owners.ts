/**
 * Which bounded context owns (and alone may write) each aggregate type. The event store refuses appends to them over
 * HTTP, and each service's NATS user may publish only `events.<aggregateType>.*.*` of the types it owns
 * (packages/devstack/src/nats-auth.ts derives the permissions from this map and k8s/topology).
 */
export const AGGREGATE_OWNERS: Readonly<Record<string, string>> = {
  customer: 'payment',
  payment: 'payment',
  product: 'inventory',
  reservation: 'inventory',
  cart: 'order',
  order: 'order',
  sale: 'sales',
  shipment: 'shipping',
  complaint: 'support',
  refund: 'support',
  notification: 'notification',
  annotation: 'event-store',
};

/** Aggregate types that no service owns: the only ones open to appends over HTTP. */
export const OPEN_AGGREGATE_TYPES: ReadonlySet<string> = new Set(['annotation']);

export function serviceOf(aggregateType: string | null): string {
  return (aggregateType && AGGREGATE_OWNERS[aggregateType]) ?? 'unknown';
}

/** The aggregate types a service owns, in the map's order. */
export function aggregateTypesOf(service: string): string[] {
  return Object.entries(AGGREGATE_OWNERS).flatMap(([type, owner]) => (owner === service ? [type] : []));
}
