import { counter, histogram } from '@jetsaga/platform';
import { serviceOf } from '../owners.js';
import type { MirrorRecord } from './record.js';

/** What the mirror writes as it stores batches; its lag is read at scrape time (../metrics.ts). */
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
