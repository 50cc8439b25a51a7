import { z } from 'zod';
import { type Envelope, type EventMeta, envelopeSchema, InvalidEventError, zodIssues } from './envelope.js';
import { type PersonalPath, personal, personalPaths } from './personal.js';

/**
 * One declaration per event type gives its TypeScript type, its runtime validation and its JSON Schema.
 * `upcasters` read older schema versions as the current one, so replay, projections and rebuilds only
 * ever see the current shape.
 */
export type EventDefinition<T extends string = string, A extends string = string, S extends z.ZodType = z.ZodType> = {
  type: T;
  aggregateType: A;
  schemaVersion: number;
  data: S;
  description: string;
  /** `upcasters[n]` reads version n's data as version n + 1; it may use the envelope (occurredAt, say). */
  upcasters?: Readonly<Record<number, (data: unknown, envelope: Envelope) => unknown>>;
};

function defineEvent<T extends string, A extends string, S extends z.ZodType>(
  definition: EventDefinition<T, A, S>,
): EventDefinition<T, A, S> {
  return definition;
}

const cents = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const quantity = z.number().int().positive().max(1_000_000);

export const orderLineSchema = z.object({
  productId: z.uuid(),
  quantity,
  priceCents: cents,
});
export type OrderLine = z.infer<typeof orderLineSchema>;

/** A postal address; `country` is an ISO 3166-1 alpha-2 code in upper case. */
export const addressSchema = z.object({
  line1: z.string().trim().min(1).max(200),
  line2: z.string().trim().min(1).max(200).optional(),
  city: z.string().trim().min(1).max(100),
  postalCode: z.string().trim().min(1).max(20),
  country: z.string().regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code in upper case'),
});
export type Address = z.infer<typeof addressSchema>;

/**
 * An address as events carry it: every line of it is personal data (sealed in the log, `[erased]` after an erasure);
 * the country alone is kept, as it identifies no one.
 */
export const personalAddressSchema = z.object({
  line1: personal(addressSchema.shape.line1),
  line2: personal(z.string().trim().min(1).max(200)).optional(),
  city: personal(addressSchema.shape.city),
  postalCode: personal(addressSchema.shape.postalCode),
  country: addressSchema.shape.country,
});

export const CANCELLATION_REASONS = ['OUT_OF_STOCK', 'PAYMENT_REFUSED', 'DEADLINE_EXCEEDED'] as const;
export type CancellationReason = (typeof CANCELLATION_REASONS)[number];

export const INCIDENT_KINDS = ['LOST', 'DAMAGED', 'DELAYED'] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];
export const INCIDENT_RESOLUTIONS = ['RESHIP', 'REFUND', 'NONE'] as const;
export type IncidentResolution = (typeof INCIDENT_RESOLUTIONS)[number];

export const COMPLAINT_PRIORITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type ComplaintPriority = (typeof COMPLAINT_PRIORITIES)[number];

/** Why payment refuses a refund request: nothing taken, all given back on cancellation, not the payer, or more than is left. */
export const REFUND_REJECTION_REASONS = ['NO_PAYMENT', 'ALREADY_REFUNDED', 'CUSTOMER_MISMATCH', 'EXCEEDS_PAYMENT'] as const;
export type RefundRejectionReason = (typeof REFUND_REJECTION_REASONS)[number];

/** The languages customers' emails are written in (CustomerRegistered locale; notification's templates). */
export const LOCALES = ['en', 'fr'] as const;
export type Locale = (typeof LOCALES)[number];

/** The saga timeout that v1 OrderPlaced events implied. */
export const V1_SAGA_TIMEOUT_MS = 30_000;

export const catalog = [
  defineEvent({
    type: 'CustomerRegistered',
    aggregateType: 'customer',
    schemaVersion: 1,
    description:
      'A customer account was opened with an initial balance and, optionally, a postal address (CompteClientCree); locale is the language their emails are written in (absent: en).',
    data: z.object({
      customerId: z.uuid(),
      name: personal(z.string()),
      email: personal(z.string()),
      balanceCents: cents,
      address: personalAddressSchema.optional(),
      locale: z.enum(LOCALES).optional(),
    }),
  }),
  defineEvent({
    type: 'CustomerErased',
    aggregateType: 'customer',
    schemaVersion: 1,
    description:
      "A customer's personal data was erased (ClientEfface): their data key is destroyed, so the name, email and addresses in their events read as [erased]; every service removes its own copies. Ids and money stay.",
    data: z.object({ customerId: z.uuid(), erasedAt: z.iso.datetime({ offset: true }) }),
  }),
  defineEvent({
    type: 'ProductCreated',
    aggregateType: 'product',
    schemaVersion: 1,
    description: 'A product was added to the catalogue with its initial stock (ProduitCree).',
    data: z.object({ productId: z.uuid(), sku: z.string(), name: z.string(), priceCents: cents, stock: z.number().int().nonnegative() }),
  }),
  defineEvent({
    type: 'CartCreated',
    aggregateType: 'cart',
    schemaVersion: 1,
    description: 'A customer opened a cart (PanierCree).',
    data: z.object({ cartId: z.uuid(), customerId: z.uuid() }),
  }),
  defineEvent({
    type: 'CartItemAdded',
    aggregateType: 'cart',
    schemaVersion: 1,
    description: 'A product was added to a cart at its current price (ArticleAjoute).',
    data: z.object({ cartId: z.uuid(), productId: z.uuid(), quantity, priceCents: cents }),
  }),
  defineEvent({
    type: 'CartCheckedOut',
    aggregateType: 'cart',
    schemaVersion: 1,
    description: 'A cart was turned into an order; it accepts no further change (PanierValide).',
    data: z.object({ cartId: z.uuid(), orderId: z.uuid() }),
  }),
  defineEvent({
    type: 'OrderPlaced',
    aggregateType: 'order',
    schemaVersion: 2,
    description:
      "Checkout created an order; the saga starts (CommandeCreee). v2 added deadlineAt; shippingAddress (optional, so v2 still) is where its parcel goes instead of the customer's address.",
    upcasters: {
      // v1 orders had no explicit deadline: the saga timeout was a fixed 30 s after the order was placed.
      1: (data, envelope) => ({
        ...(data as object),
        deadlineAt: new Date(Date.parse(envelope.occurredAt) + V1_SAGA_TIMEOUT_MS).toISOString(),
      }),
    },
    data: z.object({
      orderId: z.uuid(),
      cartId: z.uuid(),
      customerId: z.uuid(),
      lines: z.array(orderLineSchema).min(1),
      totalCents: cents,
      deadlineAt: z.iso.datetime({ offset: true }),
      shippingAddress: personalAddressSchema.optional(),
    }),
  }),
  defineEvent({
    type: 'OrderCompleted',
    aggregateType: 'order',
    schemaVersion: 1,
    description: 'The sale was confirmed; the saga ended well (CommandeTerminee).',
    data: z.object({ orderId: z.uuid() }),
  }),
  defineEvent({
    type: 'OrderCancelled',
    aggregateType: 'order',
    schemaVersion: 1,
    description: 'The saga ended without a sale; compensations follow (CommandeAnnulee).',
    data: z.object({ orderId: z.uuid(), customerId: z.uuid(), reason: z.enum(CANCELLATION_REASONS) }),
  }),
  defineEvent({
    type: 'StockReserved',
    aggregateType: 'reservation',
    schemaVersion: 1,
    description: 'Every line of the order was reserved (StockReserve).',
    data: z.object({ orderId: z.uuid(), customerId: z.uuid(), lines: z.array(orderLineSchema), totalCents: cents }),
  }),
  defineEvent({
    type: 'StockUnavailable',
    aggregateType: 'reservation',
    schemaVersion: 1,
    description: 'At least one line could not be reserved, so none was (StockIndisponible).',
    data: z.object({
      orderId: z.uuid(),
      shortages: z.array(z.object({ productId: z.uuid(), requested: quantity, available: z.number().int().nonnegative() })),
    }),
  }),
  defineEvent({
    type: 'StockReleased',
    aggregateType: 'reservation',
    schemaVersion: 1,
    description: 'A reservation was given back to available stock (StockLibere), a compensation.',
    data: z.object({ orderId: z.uuid(), lines: z.array(orderLineSchema), reason: z.enum(['PAYMENT_REFUSED', 'ORDER_CANCELLED']) }),
  }),
  defineEvent({
    type: 'StockCommitted',
    aggregateType: 'reservation',
    schemaVersion: 1,
    description: 'A reservation left the warehouse books as sold (StockConfirme).',
    data: z.object({ orderId: z.uuid(), lines: z.array(orderLineSchema) }),
  }),
  defineEvent({
    type: 'StockRestocked',
    aggregateType: 'reservation',
    schemaVersion: 1,
    description: 'Units committed to a sale that was then cancelled went back on the shelf (StockRemisEnRayon), a compensation.',
    data: z.object({ orderId: z.uuid(), lines: z.array(orderLineSchema) }),
  }),
  defineEvent({
    type: 'PaymentAccepted',
    aggregateType: 'payment',
    schemaVersion: 1,
    description: "The customer's balance was debited (PaiementAccepte).",
    data: z.object({ orderId: z.uuid(), customerId: z.uuid(), amountCents: cents, lines: z.array(orderLineSchema) }),
  }),
  defineEvent({
    type: 'PaymentRefused',
    aggregateType: 'payment',
    schemaVersion: 1,
    description: 'The balance did not cover the order, or the order was already cancelled (PaiementRefuse).',
    data: z.object({
      orderId: z.uuid(),
      customerId: z.uuid(),
      amountCents: cents,
      reason: z.enum(['INSUFFICIENT_FUNDS', 'ORDER_CANCELLED']),
    }),
  }),
  defineEvent({
    type: 'PaymentRefunded',
    aggregateType: 'payment',
    schemaVersion: 1,
    description:
      'A payment already taken was given back, whole on a cancellation or in part for a refund request (PaiementRembourse), a compensation.',
    data: z.object({
      orderId: z.uuid(),
      customerId: z.uuid(),
      amountCents: cents,
      // Set when a RefundRequested asked for it (support); absent for the saga's own compensation of a cancellation.
      refundId: z.uuid().optional(),
      complaintId: z.uuid().optional(),
      shipmentId: z.uuid().optional(),
      incidentId: z.uuid().optional(),
    }),
  }),
  defineEvent({
    type: 'RefundRejected',
    aggregateType: 'payment',
    schemaVersion: 1,
    description: 'A refund request was refused: no payment taken, or more than what is left of it (RemboursementRefuse).',
    data: z.object({
      refundId: z.uuid(),
      orderId: z.uuid(),
      customerId: z.uuid(),
      amountCents: cents,
      reason: z.enum(REFUND_REJECTION_REASONS),
      complaintId: z.uuid().optional(),
      shipmentId: z.uuid().optional(),
      incidentId: z.uuid().optional(),
    }),
  }),
  defineEvent({
    type: 'SaleConfirmed',
    aggregateType: 'sale',
    schemaVersion: 1,
    description: 'The sale was recorded in the books (VenteConfirmee).',
    data: z.object({ orderId: z.uuid(), customerId: z.uuid(), lines: z.array(orderLineSchema), totalCents: cents }),
  }),
  defineEvent({
    type: 'SaleCancelled',
    aggregateType: 'sale',
    schemaVersion: 1,
    description:
      'A sale confirmed while its order was being cancelled (the deadline won the race) was taken off the books (VenteAnnulee), a compensation.',
    data: z.object({ orderId: z.uuid(), customerId: z.uuid(), lines: z.array(orderLineSchema), totalCents: cents }),
  }),
  defineEvent({
    type: 'ShipmentCreated',
    aggregateType: 'shipment',
    schemaVersion: 1,
    description:
      "A parcel was opened for a confirmed sale, or to replace one with an incident (ColisCree). address: the checkout's, else the customer's; absent when neither gave one (it cannot be dispatched).",
    data: z.object({
      shipmentId: z.uuid(),
      orderId: z.uuid(),
      customerId: z.uuid(),
      lines: z.array(orderLineSchema).min(1),
      address: personalAddressSchema.optional(),
      replacesShipmentId: z.uuid().optional(),
    }),
  }),
  defineEvent({
    type: 'ShipmentDispatched',
    aggregateType: 'shipment',
    schemaVersion: 1,
    description: 'A parcel left with a carrier (ColisExpedie); deadlineAt is when it gets a DELAYED incident by itself if not delivered.',
    data: z.object({
      shipmentId: z.uuid(),
      orderId: z.uuid(),
      customerId: z.uuid(),
      carrier: z.string().min(1).max(100),
      trackingNumber: z.string().min(1).max(100),
      deadlineAt: z.iso.datetime({ offset: true }),
    }),
  }),
  defineEvent({
    type: 'ShipmentDelivered',
    aggregateType: 'shipment',
    schemaVersion: 1,
    description: 'A parcel reached its customer (ColisLivre).',
    data: z.object({ shipmentId: z.uuid(), orderId: z.uuid(), customerId: z.uuid() }),
  }),
  defineEvent({
    type: 'IncidentReported',
    aggregateType: 'shipment',
    schemaVersion: 1,
    description: 'Something went wrong with a parcel: lost, damaged, or late (by itself at its deadline: automatic) (IncidentDeclare).',
    data: z.object({
      shipmentId: z.uuid(),
      orderId: z.uuid(),
      customerId: z.uuid(),
      incidentId: z.uuid(),
      kind: z.enum(INCIDENT_KINDS),
      description: z.string(),
      automatic: z.boolean(),
    }),
  }),
  defineEvent({
    type: 'ReshipmentRequested',
    aggregateType: 'shipment',
    schemaVersion: 1,
    description: "An incident is to be settled with a replacement parcel: inventory is asked to reserve the parcel's lines again.",
    data: z.object({
      shipmentId: z.uuid(),
      orderId: z.uuid(),
      customerId: z.uuid(),
      incidentId: z.uuid(),
      lines: z.array(orderLineSchema).min(1),
      note: z.string().optional(),
    }),
  }),
  defineEvent({
    type: 'IncidentResolved',
    aggregateType: 'shipment',
    schemaVersion: 1,
    description:
      'An incident was settled (IncidentResolu): reshipped (a replacement parcel follows), refunded (amountCents, the value of the lines; a RESHIP becomes a REFUND when stock is short, reason OUT_OF_STOCK) or nothing. A compensation.',
    data: z.object({
      shipmentId: z.uuid(),
      orderId: z.uuid(),
      customerId: z.uuid(),
      incidentId: z.uuid(),
      resolution: z.enum(INCIDENT_RESOLUTIONS),
      note: z.string(),
      requested: z.enum(INCIDENT_RESOLUTIONS),
      amountCents: cents,
      replacementShipmentId: z.uuid().optional(),
      reason: z.string().optional(),
    }),
  }),
  defineEvent({
    type: 'ShipmentRefunded',
    aggregateType: 'shipment',
    schemaVersion: 1,
    description:
      "Payment refunded the incident of a parcel (its PaymentRefunded named this parcel): the parcel's story ends in a refund (ColisRembourse).",
    data: z.object({
      shipmentId: z.uuid(),
      orderId: z.uuid(),
      customerId: z.uuid(),
      incidentId: z.uuid().optional(),
      refundId: z.uuid(),
      amountCents: cents,
    }),
  }),
  defineEvent({
    type: 'ShipmentRefundRejected',
    aggregateType: 'shipment',
    schemaVersion: 1,
    description: "Payment refused the refund of a parcel's incident (its RefundRejected named this parcel); the parcel keeps its incident.",
    data: z.object({
      shipmentId: z.uuid(),
      orderId: z.uuid(),
      customerId: z.uuid(),
      incidentId: z.uuid().optional(),
      refundId: z.uuid(),
      amountCents: cents,
      reason: z.string(),
    }),
  }),
  defineEvent({
    type: 'ShipmentCancelled',
    aggregateType: 'shipment',
    schemaVersion: 1,
    description:
      'A parcel not yet dispatched was called off because its sale was cancelled (the saga deadline won the race) (ColisAnnule), a compensation.',
    data: z.object({ shipmentId: z.uuid(), orderId: z.uuid(), customerId: z.uuid(), reason: z.enum(['SALE_CANCELLED']) }),
  }),
  defineEvent({
    type: 'ReshipmentStockReserved',
    aggregateType: 'reservation',
    schemaVersion: 1,
    description: "The lines of a replacement parcel were taken from available stock (its reservation's id is the incident's).",
    data: z.object({ shipmentId: z.uuid(), incidentId: z.uuid(), orderId: z.uuid(), lines: z.array(orderLineSchema) }),
  }),
  defineEvent({
    type: 'ReshipmentStockUnavailable',
    aggregateType: 'reservation',
    schemaVersion: 1,
    description: 'A replacement parcel could not be reserved, so nothing was taken: the incident is refunded instead.',
    data: z.object({
      shipmentId: z.uuid(),
      incidentId: z.uuid(),
      orderId: z.uuid(),
      lines: z.array(orderLineSchema),
      reason: z.enum(['OUT_OF_STOCK']),
      shortages: z.array(z.object({ productId: z.uuid(), requested: quantity, available: z.number().int().nonnegative() })).optional(),
    }),
  }),
  defineEvent({
    type: 'ComplaintOpened',
    aggregateType: 'complaint',
    schemaVersion: 1,
    description: 'A customer complaint was opened, by the customer or by itself for a lost or damaged parcel (PlainteCreee).',
    data: z.object({
      complaintId: z.uuid(),
      customerId: z.uuid(),
      orderId: z.uuid().optional(),
      shipmentId: z.uuid().optional(),
      incidentId: z.uuid().optional(),
      title: z.string(),
      description: z.string(),
      priority: z.enum(COMPLAINT_PRIORITIES),
      category: z.string(),
      automatic: z.boolean(),
      // When it escalates if still unassigned or unresolved: the response deadline of its priority.
      deadlineAt: z.iso.datetime({ offset: true }),
    }),
  }),
  defineEvent({
    type: 'ComplaintAssigned',
    aggregateType: 'complaint',
    schemaVersion: 1,
    description: 'A support agent took the complaint (PlainteAssignee).',
    data: z.object({ complaintId: z.uuid(), agent: z.string() }),
  }),
  defineEvent({
    type: 'ComplaintProcessingStarted',
    aggregateType: 'complaint',
    schemaVersion: 1,
    description: 'The assigned agent started working on the complaint (PlainteEnCours).',
    data: z.object({ complaintId: z.uuid() }),
  }),
  defineEvent({
    type: 'ComplaintResolved',
    aggregateType: 'complaint',
    schemaVersion: 1,
    description: 'The complaint was answered, with a refund requested when refundCents is set (PlainteResolue).',
    data: z.object({ complaintId: z.uuid(), resolution: z.string(), refundCents: cents.optional(), refundId: z.uuid().optional() }),
  }),
  defineEvent({
    type: 'ComplaintClosed',
    aggregateType: 'complaint',
    schemaVersion: 1,
    description: 'A resolved complaint was closed (PlainteCloturee).',
    data: z.object({ complaintId: z.uuid() }),
  }),
  defineEvent({
    type: 'ComplaintEscalated',
    aggregateType: 'complaint',
    schemaVersion: 1,
    description: "The complaint's response deadline passed while it was unassigned or unresolved (PlainteEscaladee).",
    data: z.object({
      complaintId: z.uuid(),
      priority: z.enum(COMPLAINT_PRIORITIES),
      stage: z.enum(['UNASSIGNED', 'UNRESOLVED']),
      deadlineAt: z.iso.datetime({ offset: true }),
    }),
  }),
  defineEvent({
    type: 'RefundRequested',
    aggregateType: 'refund',
    schemaVersion: 1,
    description: 'Support asked payment to give money back for an order, for a complaint or a refunded parcel (RemboursementDemande).',
    data: z.object({
      refundId: z.uuid(),
      orderId: z.uuid(),
      customerId: z.uuid(),
      amountCents: cents,
      reason: z.string(),
      complaintId: z.uuid().optional(),
      shipmentId: z.uuid().optional(),
      incidentId: z.uuid().optional(),
    }),
  }),
  defineEvent({
    type: 'NotificationSent',
    aggregateType: 'notification',
    schemaVersion: 1,
    description:
      'An email about a customer-facing event was handed to the SMTP server, once per (event, template, recipient) (NotificationEnvoyee); it carries no address.',
    data: z.object({
      notificationId: z.uuid(),
      sourceEventId: z.uuid(),
      template: z.string(),
      customerId: z.uuid(),
      orderId: z.uuid().optional(),
      messageId: z.string(),
      sentAt: z.iso.datetime({ offset: true }),
    }),
  }),
  defineEvent({
    type: 'NotificationFailed',
    aggregateType: 'notification',
    schemaVersion: 1,
    description:
      'An email could not be sent after its retries (the SMTP server down or refusing it); its event went to the dead-letter stream, and a redrive sends it once (NotificationEchouee).',
    data: z.object({
      notificationId: z.uuid(),
      sourceEventId: z.uuid(),
      template: z.string(),
      customerId: z.uuid(),
      reason: z.string(),
      attempts: z.number().int().nonnegative(),
    }),
  }),
  defineEvent({
    type: 'NoteAdded',
    aggregateType: 'annotation',
    schemaVersion: 1,
    description: 'An operator attached a note, optionally to a saga (appended through the event store API).',
    data: z.object({ text: z.string().min(1).max(10_000), correlationId: z.uuid().optional() }),
  }),
] as const;

type Catalog = typeof catalog;
type Definition = Catalog[number];

type EventOf<D> =
  D extends EventDefinition<infer T, infer A, infer S>
    ? Omit<Envelope, 'type' | 'aggregateType' | 'data'> & { type: T; aggregateType: A; data: z.infer<S> }
    : never;

export type DomainEvent = EventOf<Definition>;
export type EventType = DomainEvent['type'];
export type EventOfType<T extends EventType> = Extract<DomainEvent, { type: T }>;
export type EventData<T extends EventType> = EventOfType<T>['data'];
export type AggregateTypeOf<T extends EventType> = EventOfType<T>['aggregateType'];

const byType = new Map<string, Definition>(catalog.map((definition) => [definition.type, definition]));

export function eventDefinition(type: string): Definition | undefined {
  return byType.get(type);
}

export const EVENT_TYPES: readonly EventType[] = catalog.map((definition) => definition.type);

const personalByType = new Map<string, readonly PersonalPath[]>(
  catalog.map((definition) => [definition.type, personalPaths(definition.data as z.ZodType)]),
);

/**
 * The personal fields of an event type (paths into its data), empty for most: what is sealed with the customer's
 * data key (`data.customerId`) when the event is written, and opened by the readers that hold it.
 */
export function personalFieldsOf(type: string): readonly PersonalPath[] {
  return personalByType.get(type) ?? [];
}

/** Builds an envelope for a known event type; the data is checked against its schema. */
export function createEvent<T extends EventType>(type: T, aggregateId: string, data: EventData<T>, meta: EventMeta): EventOfType<T> {
  const definition = byType.get(type);
  if (!definition) throw new InvalidEventError(`unknown event type ${type}`);
  const parsed = definition.data.safeParse(data);
  if (!parsed.success) throw new InvalidEventError(`invalid ${type} data`, zodIssues(parsed.error));
  return {
    ...meta,
    type,
    schemaVersion: definition.schemaVersion,
    aggregateType: definition.aggregateType,
    aggregateId,
    data: parsed.data,
  } as EventOfType<T>;
}

/**
 * Reads any envelope, of any schema version the catalogue knows, as the current version of its type.
 * Throws InvalidEventError (a poison message for consumers) when it cannot.
 */
export function parseEvent(raw: unknown): DomainEvent {
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) throw new InvalidEventError('not a valid event envelope', zodIssues(envelope.error));
  const definition = byType.get(envelope.data.type);
  if (!definition) throw new InvalidEventError(`unknown event type ${envelope.data.type}`);
  if (definition.aggregateType !== envelope.data.aggregateType) {
    throw new InvalidEventError(`${envelope.data.type} belongs to ${definition.aggregateType}, not ${envelope.data.aggregateType}`);
  }
  let { schemaVersion, data } = envelope.data;
  if (schemaVersion > definition.schemaVersion) {
    throw new InvalidEventError(
      `${definition.type} schema version ${schemaVersion} is newer than this reader (${definition.schemaVersion})`,
    );
  }
  while (schemaVersion < definition.schemaVersion) {
    const upcast = definition.upcasters?.[schemaVersion];
    if (!upcast) throw new InvalidEventError(`no upcaster for ${definition.type} v${schemaVersion}`);
    data = upcast(data, envelope.data);
    schemaVersion += 1;
  }
  const parsed = definition.data.safeParse(data);
  if (!parsed.success) throw new InvalidEventError(`invalid ${definition.type} data`, zodIssues(parsed.error));
  return { ...envelope.data, schemaVersion, data: parsed.data } as DomainEvent;
}

/** JSON Schema (draft 2020-12) of every event's data, for docs and AsyncAPI. */
export function eventJsonSchemas(): Record<string, unknown> {
  return Object.fromEntries(
    catalog.map((definition) => [
      definition.type,
      {
        description: definition.description,
        aggregateType: definition.aggregateType,
        schemaVersion: definition.schemaVersion,
        data: z.toJSONSchema(definition.data),
      },
    ]),
  );
}

/** What a pure `decide` returns: the event's type and data, before identity, time and causality are attached. */
export type EventDraft<T extends EventType = EventType> = T extends EventType ? { type: T; data: EventData<T> } : never;

/** Attaches identity, time and causality to drafts; `aggregateId` comes from the aggregate that decided them. */
export function materialize(
  drafts: readonly EventDraft[],
  aggregateId: string,
  meta: Omit<EventMeta, 'id'> & { newId: () => string },
): DomainEvent[] {
  const { newId, ...rest } = meta;
  return drafts.map((draft) => createEvent(draft.type, aggregateId, draft.data as never, { ...rest, id: newId() }));
}
