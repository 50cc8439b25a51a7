import type { Logger } from '@jetsaga/platform';
import type { DeliveryLookup, Email, Mailer } from './mailer.js';
import { emails } from './metrics.js';
import { sendStep, type SmtpOutcome } from './notification.js';
import type { AttemptStart } from './store.js';

export type Dispatcher = { mailer: Mailer; lookup?: DeliveryLookup; log: Logger };

export type AttemptResult =
  | { kind: 'done' }
  | { kind: 'sent'; response: string; deduplicated: boolean }
  | { kind: 'failed'; outcome: Exclude<SmtpOutcome, { kind: 'sent' }> };

/**
 * One attempt at one email whose attempt was begun (store.beginAttempts): nothing for a row already SENT or SUPPRESSED,
 * a look-up first for a row whose last attempt has no known outcome, then the SMTP send with its stable Message-ID.
 */
export async function attemptEmail(dispatcher: Dispatcher, before: AttemptStart, email: Email, template: string): Promise<AttemptResult> {
  const step = sendStep(before, dispatcher.lookup !== undefined);
  if (step === 'done') {
    emails.inc({ outcome: 'deduplicated', template });
    return { kind: 'done' };
  }
  if (step === 'look-up') {
    const found = await dispatcher.lookup!(email.messageId);
    if (found === true) {
      dispatcher.log.info({ messageId: email.messageId, template }, 'email of an unknown outcome was delivered; not sent again');
      emails.inc({ outcome: 'deduplicated', template });
      return { kind: 'sent', response: 'found at the receiving side by Message-ID', deduplicated: true };
    }
  }
  const outcome = await dispatcher.mailer.send(email);
  if (outcome.kind === 'sent') {
    emails.inc({ outcome: 'sent', template });
    return { kind: 'sent', response: outcome.response, deduplicated: false };
  }
  emails.inc({ outcome: 'failed', template });
  dispatcher.log.warn({ messageId: email.messageId, template, outcome: outcome.kind, err: outcome.error }, 'email not sent');
  return { kind: 'failed', outcome };
}
