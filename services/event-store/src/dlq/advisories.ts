import { ADVISORIES_STREAM, MAX_DELIVERIES_ADVISORIES } from '@jetsaga/events';
import { buildDeadLetter, type ConsumerDefinition, PermanentError, publishDeadLetter, type ServiceDeps } from '@jetsaga/platform';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
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
      const headers: Record<string, string> = {};
      for (const [key, values] of original.header ?? []) headers[key] = values[0] ?? '';
      const letter = buildDeadLetter({
        consumer: advisory.consumer,
        reason: 'max-deliveries',
        error: 'the consumer reached its maximum deliveries without settling the message',
        attempts: advisory.deliveries,
        failedAt: new Date(),
        messageId: `${advisory.consumer}:${advisory.stream}:${advisory.stream_seq}:advisory`,
        original: { subject: original.subject, stream: advisory.stream, sequence: advisory.stream_seq, headers, payload: original.data },
      });
      await publishDeadLetter(jetstream(deps.nc), letter);
      deps.log.error(
        { consumer: advisory.consumer, stream: advisory.stream, sequence: advisory.stream_seq },
        'max deliveries reached; dead-lettered',
      );
    },
  };
}
