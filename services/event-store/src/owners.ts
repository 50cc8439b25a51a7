/** Which bounded context owns (and alone may write) each aggregate type. */
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
  annotation: 'event-store',
};

/** Aggregate types that no service owns: the only ones open to appends over HTTP. */
export const OPEN_AGGREGATE_TYPES = new Set(['annotation']);

export function serviceOf(aggregateType: string | null): string {
  return (aggregateType && AGGREGATE_OWNERS[aggregateType]) ?? 'unknown';
}
