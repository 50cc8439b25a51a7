import { EVENTS_STREAM } from '@jetsaga/events';
import { gauge, type NatsConnection } from '@jetsaga/platform';
import { jetstreamManager } from '@nats-io/jetstream';
import type { MirrorStatus } from './mirror/mirror.js';
import type { ProjectionStatus } from './projections/engine.js';

/** What the lag gauges read at each scrape. */
export type LagSources = { mirror: () => Promise<MirrorStatus>; projections: () => Promise<ProjectionStatus[]> };

/**
 * Lag figures are read at scrape time, from JetStream and from the checkpoints themselves. The mirror's own counters
 * are in mirror/metrics.ts: this module only reads statuses, and the mirror does not import it.
 */
export function registerLagGauges(nc: NatsConnection, sources: LagSources): void {
  gauge({
    name: 'event_store_mirror_lag_messages',
    help: 'EVENTS last sequence minus the last mirrored sequence.',
    async collect() {
      this.set((await sources.mirror()).lag);
    },
  });
  gauge({
    name: 'event_store_mirror_lag_seconds',
    help: 'Age of the oldest stream message not yet mirrored (0 when caught up).',
    async collect() {
      const status = await sources.mirror();
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
      for (const projection of await sources.projections()) {
        if (projection.state === 'LIVE') this.set({ projection: projection.name }, projection.lag);
      }
    },
  });
}
