/** How the shop names a saga's steps, and which ones undo an earlier step (the compensations). */
export const STEP_LABELS: Record<string, string> = {
  CartCheckedOut: 'checked out',
  OrderPlaced: 'placed',
  StockReserved: 'reserved',
  StockUnavailable: 'out of stock',
  PaymentAccepted: 'paid',
  PaymentRefused: 'payment refused',
  SaleConfirmed: 'sold',
  StockCommitted: 'stock committed',
  OrderCompleted: 'completed',
  OrderCancelled: 'cancelled',
  StockReleased: 'stock released',
  PaymentRefunded: 'payment refunded',
  SaleCancelled: 'sale cancelled',
  ShipmentCreated: 'parcel created',
  ShipmentDispatched: 'dispatched',
  ShipmentDelivered: 'delivered',
  IncidentReported: 'incident reported',
  IncidentResolved: 'incident resolved',
  ComplaintOpened: 'complaint opened',
  ComplaintResolved: 'complaint resolved',
  RefundRequested: 'refund requested',
  NotificationSent: 'email sent',
};

export const COMPENSATIONS = new Set([
  'StockReleased',
  'PaymentRefunded',
  'SaleCancelled',
  'OrderCancelled',
  'ShipmentCancelled',
  'PaymentRefused',
  'StockUnavailable',
  'RefundRejected',
]);

export const stepLabel = (type: string) => STEP_LABELS[type] ?? type;

/** An order's (and its saga's) outcomes, as the read models filter them. */
export const ORDER_STATUSES = ['PENDING', 'COMPLETED', 'CANCELLED'] as const;
