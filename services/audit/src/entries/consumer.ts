import { EVENTS_STREAM } from '@jetsaga/events';
import { type ConsumerDefinition, type ServiceDeps, withTransaction } from '@jetsaga/platform';
import { insertCheckpoint, lastCheckpoint } from '../chain/store.js';
import { type SigningKey, signCheckpoint } from '../chain/signing.js';
import { recordAppended, recordCheckpoint } from '../metrics.js';
import { type Arrived, appendArrivals, decodeArrived } from './append.js';

export const AUDIT_CONSUMER = 'audit';

export type AuditConsumerOptions = { key: SigningKey; checkpointEvery: number };

/**
 * The trail's own durable consumer of every event (not the event store's mirror): each batch is appended in one
 * transaction under the chain lock, in stream order, each event once; every `checkpointEvery` entries the head is
 * signed in the same transaction.
 */
export function auditConsumers(deps: Pick<ServiceDeps, 'db' | 'now'>, options?: AuditConsumerOptions): ConsumerDefinition<Arrived>[] {
  return [
    {
      spec: { stream: EVENTS_STREAM, durable: AUDIT_CONSUMER, filterSubjects: ['events.>'] },
      decode: decodeArrived,
      maxBatch: 500,
      handleBatch: async (items) => {
        if (!options) throw new Error('the audit consumer runs with a signing key');
        const recordedAt = deps.now().toISOString();
        let signed = false;
        const entries = await withTransaction(deps.db, async (tx) => {
          const appended = await appendArrivals(
            tx,
            items.map((item) => ({ event: item.message, subject: item.delivery.subject, streamSequence: item.delivery.streamSequence })),
            recordedAt,
          );
          const head = appended.at(-1);
          if (head) {
            const last = await lastCheckpoint(tx);
            if (head.position - (last?.position ?? 0) >= options.checkpointEvery) {
              await insertCheckpoint(tx, signCheckpoint(options.key, head.position, head.hash, recordedAt));
              signed = true;
            }
          }
          return appended;
        });
        recordAppended(entries);
        if (signed) recordCheckpoint('every-n');
      },
    },
  ];
}
