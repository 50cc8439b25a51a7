import { ADVISORIES_STREAM, dlqSubject, MAX_DELIVERIES_ADVISORIES } from '@jetsaga/events';
import { type ConsumerDefinition, DLQ_HEADERS, PermanentError, type ServiceDeps } from '@jetsaga/platform';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { z } from 'zod';

const advisorySchema = z.object({
  stream: z.string(),
  consumer: z.string(),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int(),
});
export type MaxDeliveriesAdvisory = z.infer<typeof advisorySchema>;

/**
 * Catches what a consumer gave up on without dead-lettering it (the process died during its last delivery): JetStream
 * announces it in a max-deliveries advisory, which the ADVISORIES stream keeps; this consumer copies the message into
 * the DLQ like any other dead letter.
 */
export function advisoryConsumer(deps: Pick<ServiceDeps, 'nc' | 'log'>): ConsumerDefinition<MaxDeliveriesAdvisory> {
  return {
    spec: { stream: ADVISORIES_STREAM, durable: 'dlq-advisories', filterSubjects: [MAX_DELIVERIES_ADVISORIES] },
    decode: (data) => advisorySchema.parse(JSON.parse(new TextDecoder().decode(data))),
    handle: async (advisory) => {
      if (advisory.stream === 'DLQ' || advisory.stream === ADVISORIES_STREAM) return;
      const jsm = await jetstreamManager(deps.nc);
      const original = await jsm.streams.getMessage(advisory.stream, { seq: advisory.stream_seq }).catch(() => null);
      if (!original) throw new PermanentError(`${advisory.stream} #${advisory.stream_seq} is gone; nothing to dead-letter`);
      const hdrs = natsHeaders();
      for (const [key, values] of original.header ?? []) if (!key.startsWith('Nats-')) hdrs.set(key, values[0] ?? '');
      hdrs.set(DLQ_HEADERS.subject, original.subject);
      hdrs.set(DLQ_HEADERS.stream, advisory.stream);
      hdrs.set(DLQ_HEADERS.sequence, String(advisory.stream_seq));
      hdrs.set(DLQ_HEADERS.consumer, advisory.consumer);
      hdrs.set(DLQ_HEADERS.attempts, String(advisory.deliveries));
      hdrs.set(DLQ_HEADERS.reason, 'max-deliveries');
      hdrs.set(DLQ_HEADERS.error, 'the consumer reached its maximum deliveries without settling the message');
      hdrs.set(DLQ_HEADERS.failedAt, new Date().toISOString());
      await jetstream(deps.nc).publish(dlqSubject(advisory.consumer), original.data, {
        headers: hdrs,
        msgID: `${advisory.consumer}:${advisory.stream}:${advisory.stream_seq}:advisory`,
      });
      deps.log.error(
        { consumer: advisory.consumer, stream: advisory.stream, sequence: advisory.stream_seq },
        'max deliveries reached; dead-lettered',
      );
    },
  };
}
