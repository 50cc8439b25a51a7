import { createEvent, type DomainEvent, EVENTS_STREAM, eventTypeFilter } from '@jetsaga/events';
import {
  type BatchItem,
  causedBy,
  claimEvents,
  type ConsumerDefinition,
  type ConsumerSpec,
  DEFAULT_BACKOFF_MS,
  enqueueEvents,
  PermanentError,
  scrubPersonalData,
  type ServiceDeps,
  withTransaction,
} from '@jetsaga/platform';
import { context } from '@opentelemetry/api';
import { RECIPIENT_EVENT_TYPES, readModelRows, saveReadModelRows } from '../recipients/projection.js';
import { type AttemptResult, attemptEmail, type Dispatcher } from './dispatch.js';
import { emails } from './metrics.js';
import { decideDelivery, type Intent, intentFor, messageIdFor, NOTIFIABLE_EVENT_TYPES, notificationIdFor } from './notification.js';
import {
  type AttemptStart,
  beginAttempts,
  claimedEvents,
  insertNotifications,
  loadLookups,
  loadRecipients,
  markFailed,
  markSent,
  type NotificationRow,
} from './store.js';
import { render, type Rendered } from './templates.js';

export const NOTIFICATION_CONSUMER = 'notification';
export const ACTOR = 'notification-service';

const NOTIFIABLE = new Set<string>(NOTIFIABLE_EVENT_TYPES);

export function notificationSpec(backoffMs: readonly number[] = DEFAULT_BACKOFF_MS): ConsumerSpec {
  return {
    stream: EVENTS_STREAM,
    durable: NOTIFICATION_CONSUMER,
    filterSubjects: [...new Set<string>([...RECIPIENT_EVENT_TYPES, ...NOTIFIABLE_EVENT_TYPES])].map(eventTypeFilter),
    // Attempts stay at five whatever the schedule (k8s/topology's maxDeliver 6 is one more); only the delays change.
    maxAttempts: DEFAULT_BACKOFF_MS.length + 1,
    backoffMs,
  };
}

export type NotificationConsumerOptions = Pick<ServiceDeps, 'db' | 'now' | 'newId' | 'log'> & {
  dispatcher: Dispatcher;
  /** The domain of Message-IDs (`<notification id>@<domain>`). */
  messageIdDomain: string;
  backoffMs?: readonly number[];
  /** Opens the names and addresses emails go to (ADR 0052); without it they stay sealed. */
  keyring?: ServiceDeps['keyring'];
};

type Planned = {
  index: number;
  event: DomainEvent;
  row: NotificationRow;
  rendered: Rendered;
  intent: Intent;
};

/** What became of one item of the batch after the SMTP step. */
type Settled = Planned & { before: AttemptStart; result: AttemptResult };

/**
 * The consumer of customer-facing events. Per batch, in stream order:
 *  1. one transaction: the read models (recipients, orders, complaints, erasures), the notifications the events ask for
 *     (ON CONFLICT DO NOTHING on their (event, template, recipient) id), SUPPRESSED ones settled and claimed, and an
 *     attempt begun on each one to send;
 *  2. the SMTP sends (or look-ups), outside any transaction;
 *  3. one transaction: SENT rows, NotificationSent in the outbox and the inbox claim, together; an attempt that failed
 *     keeps its event unclaimed for the retry, and the last one marks it FAILED with NotificationFailed before the
 *     message goes to the DLQ. A redrive finds the FAILED row and sends it once.
 */
export function notificationConsumer(options: NotificationConsumerOptions): ConsumerDefinition {
  const spec = notificationSpec(options.backoffMs);
  const maxAttempts = spec.maxAttempts ?? DEFAULT_BACKOFF_MS.length + 1;
  const { db, log } = options;
  return {
    spec,
    ...(options.keyring ? { personalData: options.keyring } : {}),
    maxBatch: 32,
    handleBatch: async (items: readonly BatchItem<DomainEvent>[]) => {
      const failures = new Map<number, unknown>();
      const planned = await withTransaction(db, async (tx) => {
        // A transaction retried (serialization failure) decides again from scratch.
        failures.clear();
        await saveReadModelRows(tx, readModelRows(items.map((item) => item.message)));
        const seen = new Set<string>();
        const notifiable = items.flatMap((item, index) => {
          if (!NOTIFIABLE.has(item.message.type) || seen.has(item.message.id)) return [];
          seen.add(item.message.id);
          return [{ index, event: item.message }];
        });
        if (notifiable.length === 0) return [];
        const claimed = await claimedEvents(
          tx,
          NOTIFICATION_CONSUMER,
          notifiable.map((n) => n.event.id),
        );
        const open = notifiable.filter((n) => {
          if (!claimed.has(n.event.id)) return true;
          emails.inc({ outcome: 'deduplicated', template: 'event' });
          return false;
        });
        const orderIds = open.flatMap(({ event }) => (event.type === 'OrderCompleted' ? [event.data.orderId] : []));
        const complaintIds = open.flatMap(({ event }) =>
          event.type === 'ComplaintAssigned' || event.type === 'ComplaintResolved' || event.type === 'ComplaintClosed'
            ? [event.data.complaintId]
            : [],
        );
        const lookups = await loadLookups(tx, orderIds, complaintIds);
        const wanted = open.flatMap((n) => {
          const intent = intentFor(n.event, lookups);
          return intent ? [{ ...n, intent }] : [];
        });
        // Every notifiable event asks for an email; one without an intent is about an order or complaint the read
        // models have not seen yet: its earlier event (OrderPlaced, ComplaintOpened) failed once and waits for its
        // retry while this one came through. It is retried after it, not dropped; only on its last attempt is it let
        // go (an order this consumer can never know), so that the DLQ holds real failures only.
        const addressed = new Set(wanted.map((w) => w.index));
        const unseen = new Set<string>();
        for (const n of open) {
          if (addressed.has(n.index)) continue;
          if (items[n.index]!.delivery.deliveryCount >= maxAttempts) {
            log.warn({ eventId: n.event.id, eventType: n.event.type }, 'no email: its order or complaint was never seen');
            continue;
          }
          unseen.add(n.event.id);
          failures.set(n.index, new Error(`${n.event.type} ${n.event.id}: its order or complaint is not in the read model yet`));
        }
        const { recipients, wantsEmail } = await loadRecipients(tx, [...new Set(wanted.map((w) => w.intent.customerId))]);
        const plans: Planned[] = wanted.map(({ index, event, intent }) => {
          const recipient = recipients.get(intent.customerId);
          const delivery = decideDelivery(recipient, wantsEmail.get(intent.customerId));
          const rendered = render(intent.template, delivery.locale, { ...intent.facts, ...(recipient ? { name: recipient.name } : {}) });
          const id = notificationIdFor(event.id, intent.template, intent.customerId);
          return {
            index,
            event,
            intent,
            rendered,
            row: {
              id,
              sourceEventId: event.id,
              sourceEventType: event.type,
              template: intent.template,
              locale: delivery.locale,
              customerId: intent.customerId,
              orderId: intent.orderId ?? null,
              to: delivery.to,
              subject: rendered.subject,
              messageId: messageIdFor(id, options.messageIdDomain),
              status: delivery.status,
              reason: delivery.status === 'SUPPRESSED' ? delivery.reason : null,
            },
          };
        });
        await insertNotifications(
          tx,
          plans.map((p) => p.row),
        );
        for (const plan of plans) if (plan.row.status === 'SUPPRESSED') emails.inc({ outcome: 'suppressed', template: plan.row.template });
        const before = await beginAttempts(
          tx,
          plans.map((p) => p.row.id),
        );
        const sending = plans.filter((p) => {
          const status = before.get(p.row.id)?.status;
          return status === 'PENDING' || status === 'FAILED';
        });
        // Events that ask for no email, or whose email is settled already (SUPPRESSED, or SENT before a crash
        // lost the claim), are done now.
        const sendingIds = new Set(sending.map((p) => p.event.id));
        await claimEvents(
          tx,
          NOTIFICATION_CONSUMER,
          open.filter((n) => !sendingIds.has(n.event.id) && !unseen.has(n.event.id)).map((n) => ({ id: n.event.id, type: n.event.type })),
        );
        return sending.map((p) => ({ ...p, before: before.get(p.row.id)! }));
      });
      if (planned.length === 0) return failures;

      const settled: Settled[] = [];
      for (const plan of planned) {
        const email = { to: plan.before.to, ...plan.rendered, messageId: plan.row.messageId };
        const result = await context.with(items[plan.index]!.trace, () =>
          attemptEmail(options.dispatcher, plan.before, email, plan.row.template),
        );
        settled.push({ ...plan, result });
      }

      const now = options.now();
      await withTransaction(db, async (tx) => {
        const sent = settled.filter((s) => s.result.kind === 'sent');
        await markSent(
          tx,
          sent.map((s) => ({
            id: s.row.id,
            response: s.result.kind === 'sent' ? s.result.response : '',
            deduplicated: s.result.kind === 'sent' && s.result.deduplicated,
          })),
          now,
        );
        const failed = settled.flatMap((s) => (s.result.kind === 'failed' ? [{ ...s, outcome: s.result.outcome }] : []));
        const finals = failed.filter(
          (f) => (f.outcome.kind === 'rejected' && f.outcome.permanent) || items[f.index]!.delivery.deliveryCount >= maxAttempts,
        );
        const finalIds = new Set(finals.map((f) => f.row.id));
        await markFailed(
          tx,
          failed.map((f) => ({
            id: f.row.id,
            error: f.outcome.error,
            outcomeUnknown: f.outcome.kind === 'unknown',
            final: finalIds.has(f.row.id),
          })),
        );
        const events = [
          ...sent.map((s) =>
            createEvent(
              'NotificationSent',
              s.row.id,
              {
                notificationId: s.row.id,
                sourceEventId: s.event.id,
                template: s.row.template,
                customerId: s.intent.customerId,
                ...(s.intent.orderId ? { orderId: s.intent.orderId } : {}),
                messageId: s.row.messageId,
                sentAt: now.toISOString(),
              },
              { id: options.newId(), ...causedBy(s.event, options, ACTOR) },
            ),
          ),
          ...finals.map((f) =>
            createEvent(
              'NotificationFailed',
              f.row.id,
              {
                notificationId: f.row.id,
                sourceEventId: f.event.id,
                template: f.row.template,
                customerId: f.intent.customerId,
                // The event log keeps it for good: no recipient address the SMTP server quoted (ADR 0052).
                reason: scrubPersonalData(f.outcome.error).slice(0, 500),
                attempts: f.before.attempts + 1,
              },
              { id: options.newId(), ...causedBy(f.event, options, ACTOR) },
            ),
          ),
        ];
        await enqueueEvents(tx, events);
        // An event is done once none of its emails failed (one email per event here; the rule holds for more).
        const failedEvents = new Set(failed.map((f) => f.event.id));
        await claimEvents(tx, NOTIFICATION_CONSUMER, [
          ...new Map(
            sent.filter((s) => !failedEvents.has(s.event.id)).map((s) => [s.event.id, { id: s.event.id, type: s.event.type }]),
          ).values(),
        ]);
      });
      for (const f of settled) {
        if (f.result.kind !== 'failed') continue;
        const { outcome } = f.result;
        const error =
          outcome.kind === 'rejected' && outcome.permanent
            ? new PermanentError(outcome.error)
            : new Error(`SMTP ${outcome.kind}: ${outcome.error}`);
        failures.set(f.index, error);
      }
      log.debug(
        { batch: items.length, sent: settled.filter((s) => s.result.kind === 'sent').length, failed: failures.size },
        'notification batch',
      );
      return failures;
    },
  };
}

/** The service's consumers (runService's `consumers`; the topology test builds them with no dependency). */
export function notificationConsumers(options: NotificationConsumerOptions): ConsumerDefinition[] {
  return [notificationConsumer(options)];
}
