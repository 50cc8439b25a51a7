/**
 * Compliance tags, declared: each rule names the event types it applies to and, optionally, the data fields that
 * must be present for it to apply. An entry carries every tag whose rule matches, decided once when it is appended
 * (the tags are part of the chained entry, so they cannot be changed afterwards without breaking the chain).
 */
export const COMPLIANCE_TAGS = ['PCI', 'GDPR', 'FINANCIAL', 'SECURITY'] as const;
export type ComplianceTag = (typeof COMPLIANCE_TAGS)[number];

export type TagRule = {
  tag: ComplianceTag;
  /** Event types (catalogue names). */
  types: readonly string[];
  /** When given, the rule applies only if at least one of these fields of `data` is present and not null. */
  fields?: readonly string[];
  /** Why, for the README and the report's reader. */
  why: string;
};

export const TAG_RULES: readonly TagRule[] = [
  // PCI DSS scope: the payment transactions themselves (authorisation, refusal, refund). jetsaga handles no card
  // numbers (balances are internal), but these are the records a payment audit asks for.
  {
    tag: 'PCI',
    types: ['PaymentAccepted', 'PaymentRefused', 'PaymentRefunded', 'RefundRejected'],
    why: 'payment transactions: authorisations, refusals and refunds',
  },
  // GDPR: events that carry personal data of a customer (ciphertext once crypto-shredding is on) and the erasure.
  { tag: 'GDPR', types: ['CustomerRegistered'], fields: ['name', 'email', 'address'], why: "a customer's name, e-mail and address" },
  { tag: 'GDPR', types: ['OrderPlaced'], fields: ['shippingAddress'], why: 'the shipping address given at checkout' },
  { tag: 'GDPR', types: ['ShipmentCreated'], fields: ['address'], why: "the parcel's destination address" },
  { tag: 'GDPR', types: ['CustomerErased'], why: "a customer's erasure (the right to be forgotten)" },
  // Money movements: balances opened, payments taken and given back, sales and their reversal.
  {
    tag: 'FINANCIAL',
    types: ['CustomerRegistered'],
    fields: ['balanceCents'],
    why: 'an account opened with a balance',
  },
  {
    tag: 'FINANCIAL',
    types: ['PaymentAccepted', 'PaymentRefunded', 'SaleConfirmed', 'SaleCancelled', 'ShipmentRefunded'],
    why: 'money taken, given back or booked as a sale',
  },
  {
    tag: 'FINANCIAL',
    types: ['IncidentResolved', 'ComplaintResolved', 'RefundRequested'],
    fields: ['amountCents', 'refundCents'],
    why: 'a refund asked for',
  },
  // SECURITY: authentication and authorisation events (sign-ins, refusals, role grants). The system emits none yet
  // (tokens are verified at each service and refusals are HTTP answers, not events); the rule is here so that such
  // an event type, once in the catalogue, is tagged by naming it in `types`.
  { tag: 'SECURITY', types: [], why: 'authentication and authorisation (no such event type exists yet)' },
];

function present(data: unknown, field: string): boolean {
  return typeof data === 'object' && data !== null && (data as Record<string, unknown>)[field] != null;
}

/** The tags of one event, sorted, each once. Pure. */
export function tagsFor(type: string, data: unknown, rules: readonly TagRule[] = TAG_RULES): ComplianceTag[] {
  const tags = new Set<ComplianceTag>();
  for (const rule of rules) {
    if (!rule.types.includes(type)) continue;
    if (rule.fields && !rule.fields.some((field) => present(data, field))) continue;
    tags.add(rule.tag);
  }
  return [...tags].sort();
}
