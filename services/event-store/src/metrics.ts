import { EVENTS_STREAM } from '@jetsaga/events';
import { counter, gauge, histogram, type NatsConnection } from '@jetsaga/platform';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Mirror } from './mirror/mirror.js';
import type { MirrorRecord } from './mirror/record.js';
import { serviceOf } from './owners.js';
import type { ProjectionEngine } from './projections/engine.js';

const mirrored = counter({
  name: 'event_store_events_total',
  help: 'Events mirrored into Postgres, by event type and emitting service.',
  labelNames: ['event_type', 'source'],
});

export const mirrorBatchSeconds = histogram({
  name: 'event_store_batch_duration_seconds',
  help: 'Time to write one mirror batch (insert and checkpoint) to Postgres.',
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
});

export function countMirrored(batch: readonly MirrorRecord[]): void {
  for (const record of batch) mirrored.inc({ event_type: record.type ?? 'invalid', source: serviceOf(record.aggregateType) });
}

/** Lag figures are read at scrape time, from JetStream and from the checkpoints themselves. */
export function registerLagGauges(nc: NatsConnection, mirror: () => Mirror, engine: () => ProjectionEngine): void {
  gauge({
    name: 'event_store_mirror_lag_messages',
    help: 'EVENTS last sequence minus the last mirrored sequence.',
    async collect() {
      this.set((await mirror().status()).lag);
    },
  });
  gauge({
    name: 'event_store_mirror_lag_seconds',
    help: 'Age of the oldest stream message not yet mirrored (0 when caught up).',
    async collect() {
      const status = await mirror().status();
      if (status.lag === 0) {
        this.set(0);
        return;
      }
      const jsm = await jetstreamManager(nc);
      const oldest = await jsm.streams.getMessage(EVENTS_STREAM, { seq: status.position + 1 }).catch(() => null);
      this.set(oldest ? Math.max(0, (Date.now() - oldest.time.getTime()) / 1000) : 0);
    },
  });
  gauge({
    name: 'event_store_projection_lag_messages',
    help: 'Mirrored events the live version of a projection has not applied yet.',
    labelNames: ['projection'],
    async collect() {
      for (const projection of await engine().status()) {
        if (projection.state === 'LIVE') this.set({ projection: projection.name }, projection.lag);
      }
    },
  });
}
