import { EVENTS_STREAM } from '@jetsaga/events';
import type { NatsConnection } from '@jetsaga/platform';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';

/** An event as JetStream stores it, with its stream sequence. */
export type StoredEvent = {
  seq: number;
  id: string;
  type: string;
  aggregateType: string;
  aggregateId: string;
  correlationId: string;
  causationId: string;
  data: Record<string, unknown>;
};

/** Every message of EVENTS on the subjects of one aggregate (`events.<type>.<id>.*`), in stream order. */
export async function eventsOf(nc: NatsConnection, aggregateType: string, aggregateId: string): Promise<StoredEvent[]> {
  const filter = `events.${aggregateType}.${aggregateId}.*`;
  const info = await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM, { subjects_filter: filter });
  const total = Object.values(info.state.subjects ?? {}).reduce((sum, n) => sum + n, 0);
  if (total === 0) return [];
  const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM, { filter_subjects: [filter] });
  const messages = await consumer.consume();
  const events: StoredEvent[] = [];
  for await (const msg of messages) {
    events.push({ seq: msg.info.streamSequence, ...(msg.json() as Omit<StoredEvent, 'seq'>) });
    if (events.length >= total) break;
  }
  messages.stop();
  return events;
}
