/**
 * The emails, one per template and locale, as text and HTML. Pure: what a customer reads follows from the template,
 * their locale and the facts the event carried, so the unit tests read every one of them.
 */
import type { Locale } from '@jetsaga/events';

export { type Locale, LOCALES } from '@jetsaga/events';

export const TEMPLATES = [
  'order-completed',
  'order-cancelled',
  'shipment-dispatched',
  'shipment-delivered',
  'incident-reported',
  'complaint-opened',
  'complaint-assigned',
  'complaint-resolved',
  'complaint-closed',
  'payment-refunded',
  'alert',
] as const;
export type Template = (typeof TEMPLATES)[number];

/** The facts a template may print; every one is optional so that a template says what it does without one. */
export type Facts = {
  name?: string;
  orderId?: string;
  totalCents?: number;
  amountCents?: number;
  reason?: string;
  carrier?: string;
  trackingNumber?: string;
  kind?: string;
  complaintId?: string;
  title?: string;
  resolution?: string;
  /** An alert: its name, severity, status (firing, resolved), summary and description, and where it came from. */
  alertName?: string;
  severity?: string;
  alertStatus?: string;
  summary?: string;
  description?: string;
  alerts?: ReadonlyArray<{ name: string; status: string; summary: string; startsAt: string; labels: string }>;
};

export type Rendered = { subject: string; text: string; html: string };

/** An order's short reference (its id's first block), as customers quote it. */
export function reference(id: string | undefined): string {
  return (id ?? '').slice(0, 8).toUpperCase();
}

/** Integer cents as an amount in the customer's locale: 1234 -> "12.34" (en), "12,34" (fr). */
export function amount(cents: number | undefined, locale: Locale): string {
  const value = (cents ?? 0) / 100;
  return new Intl.NumberFormat(locale === 'fr' ? 'fr-FR' : 'en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(value);
}

const CANCELLATION: Record<Locale, Record<string, string>> = {
  en: {
    OUT_OF_STOCK: 'some of the items are out of stock',
    PAYMENT_REFUSED: 'the payment was refused',
    DEADLINE_EXCEEDED: 'it could not be completed in time',
  },
  fr: {
    OUT_OF_STOCK: 'certains articles sont en rupture de stock',
    PAYMENT_REFUSED: 'le paiement a été refusé',
    DEADLINE_EXCEEDED: "elle n'a pas pu être finalisée à temps",
  },
};

const INCIDENTS: Record<Locale, Record<string, string>> = {
  en: { LOST: 'lost', DAMAGED: 'damaged', DELAYED: 'delayed' },
  fr: { LOST: 'perdu', DAMAGED: 'endommagé', DELAYED: 'retardé' },
};

type Copy = { subject: string; lines: string[] };

function copy(template: Template, locale: Locale, facts: Facts): Copy {
  const ref = reference(facts.orderId);
  const fr = locale === 'fr';
  switch (template) {
    case 'order-completed':
      return fr
        ? {
            subject: `Votre commande ${ref} est confirmée`,
            lines: [
              `Nous avons bien reçu le paiement de votre commande ${ref} (${amount(facts.totalCents, locale)}).`,
              'Nous préparons votre colis.',
            ],
          }
        : {
            subject: `Your order ${ref} is confirmed`,
            lines: [
              `We received the payment for your order ${ref} (${amount(facts.totalCents, locale)}).`,
              'We are preparing your parcel.',
            ],
          };
    case 'order-cancelled': {
      const why = CANCELLATION[locale][facts.reason ?? ''] ?? facts.reason ?? '';
      return fr
        ? {
            subject: `Votre commande ${ref} est annulée`,
            lines: [`Votre commande ${ref} est annulée : ${why}.`, "Aucun montant n'a été conservé."],
          }
        : {
            subject: `Your order ${ref} was cancelled`,
            lines: [`Your order ${ref} was cancelled because ${why}.`, 'Nothing was kept from your balance.'],
          };
    }
    case 'shipment-dispatched':
      return fr
        ? {
            subject: `Votre commande ${ref} est expédiée`,
            lines: [`Votre colis est parti avec ${facts.carrier ?? ''}.`, `Numéro de suivi : ${facts.trackingNumber ?? ''}.`],
          }
        : {
            subject: `Your order ${ref} is on its way`,
            lines: [`Your parcel left with ${facts.carrier ?? ''}.`, `Tracking number: ${facts.trackingNumber ?? ''}.`],
          };
    case 'shipment-delivered':
      return fr
        ? { subject: `Votre commande ${ref} est livrée`, lines: [`Votre colis de la commande ${ref} a été livré.`] }
        : { subject: `Your order ${ref} was delivered`, lines: [`The parcel of your order ${ref} was delivered.`] };
    case 'incident-reported': {
      const kind = INCIDENTS[locale][facts.kind ?? ''] ?? facts.kind ?? '';
      return fr
        ? {
            subject: `Un incident concerne votre commande ${ref}`,
            lines: [`Votre colis est signalé ${kind}.`, 'Nous vous tenons informé de la suite.'],
          }
        : {
            subject: `There is a problem with your order ${ref}`,
            lines: [`Your parcel was reported ${kind}.`, 'We will let you know how it is settled.'],
          };
    }
    case 'complaint-opened':
      return fr
        ? {
            subject: `Réclamation enregistrée : ${facts.title ?? ''}`,
            lines: [`Votre réclamation « ${facts.title ?? ''} » est enregistrée (${reference(facts.complaintId)}).`],
          }
        : {
            subject: `We received your complaint: ${facts.title ?? ''}`,
            lines: [`Your complaint "${facts.title ?? ''}" is registered (${reference(facts.complaintId)}).`],
          };
    case 'complaint-assigned':
      return fr
        ? {
            subject: `Votre réclamation ${reference(facts.complaintId)} est prise en charge`,
            lines: [`Un conseiller traite votre réclamation « ${facts.title ?? ''} ».`],
          }
        : {
            subject: `Your complaint ${reference(facts.complaintId)} is being handled`,
            lines: [`An agent is taking care of your complaint "${facts.title ?? ''}".`],
          };
    case 'complaint-resolved':
      return fr
        ? {
            subject: `Votre réclamation ${reference(facts.complaintId)} est résolue`,
            lines: [`Réponse : ${facts.resolution ?? ''}`],
          }
        : {
            subject: `Your complaint ${reference(facts.complaintId)} is resolved`,
            lines: [`Our answer: ${facts.resolution ?? ''}`],
          };
    case 'complaint-closed':
      return fr
        ? { subject: `Votre réclamation ${reference(facts.complaintId)} est close`, lines: ['Merci de votre patience.'] }
        : { subject: `Your complaint ${reference(facts.complaintId)} is closed`, lines: ['Thank you for your patience.'] };
    case 'payment-refunded':
      return fr
        ? {
            subject: `Remboursement de ${amount(facts.amountCents, locale)} pour la commande ${ref}`,
            lines: [`Nous vous avons remboursé ${amount(facts.amountCents, locale)} pour la commande ${ref}.`],
          }
        : {
            subject: `Refund of ${amount(facts.amountCents, locale)} for order ${ref}`,
            lines: [`We refunded ${amount(facts.amountCents, locale)} for your order ${ref}.`],
          };
    case 'alert': {
      const status = (facts.alertStatus ?? 'firing').toUpperCase();
      return {
        subject: `[${status}] ${facts.alertName ?? 'alert'} (${facts.severity ?? 'unknown'})`,
        lines: [
          `${facts.alertName ?? 'An alert'} is ${facts.alertStatus ?? 'firing'} (severity ${facts.severity ?? 'unknown'}).`,
          facts.summary ?? '',
          facts.description ?? '',
          ...(facts.alerts ?? []).map(
            (alert) => `- ${alert.status}: ${alert.name} since ${alert.startsAt} — ${alert.summary} {${alert.labels}}`,
          ),
        ].filter((line) => line.length > 0),
      };
    }
    default: {
      const unknown: never = template;
      throw new Error(`no template ${String(unknown)}`);
    }
  }
}

const GREETING: Record<Locale, (name: string | undefined) => string> = {
  en: (name) => (name ? `Hello ${name},` : 'Hello,'),
  fr: (name) => (name ? `Bonjour ${name},` : 'Bonjour,'),
};

const SIGNATURE: Record<Locale, string> = { en: 'The jetsaga team', fr: "L'équipe jetsaga" };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

/** The subject, the text part and the HTML part of one email. */
export function render(template: Template, locale: Locale, facts: Facts): Rendered {
  const { subject, lines } = copy(template, locale, facts);
  const body = template === 'alert' ? lines : [GREETING[locale](facts.name), '', ...lines, '', SIGNATURE[locale]];
  const text = `${body.join('\n')}\n`;
  const html = [
    `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head><body>`,
    ...body.filter((line) => line.length > 0).map((line) => `<p>${escapeHtml(line)}</p>`),
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

export function localeOf(value: string | undefined | null): Locale {
  return value === 'fr' ? 'fr' : 'en';
}
