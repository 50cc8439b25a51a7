// End-to-end saga latency from JetStream itself: an ordered consumer on the order aggregate's events sees each
// OrderPlaced (its occurredAt is the checkout's instant) and the OrderCompleted/OrderCancelled that ends the saga
// (its stream timestamp is when the outcome became durable). No polling of the API.
import { EVENTS_STREAM } from '../../packages/events/dist/index.js';
import { clearTimeout, setTimeout } from 'node:timers';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';

const TERMINAL = new Set(['OrderCompleted', 'OrderCancelled']);

export async function trackSagas(nc) {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(EVENTS_STREAM, { filter_subjects: ['events.order.*.*'], deliver_policy: DeliverPolicy.New });
  const messages = await consumer.consume();
  /** orderId -> checkout instant (ms) of sagas not yet ended. */
  const open = new Map();
  /** Every ended saga: when it was placed, when it ended, and how. */
  const ended = [];
  /** Checkout instants of every saga seen, in stream order. */
  const placements = [];
  const waiters = new Set();
  const loop = (async () => {
    for await (const msg of messages) {
      const [, , orderId, type] = msg.subject.split('.');
      if (type === 'OrderPlaced') {
        const placedAt = Date.parse(msg.json().occurredAt);
        open.set(orderId, placedAt);
        placements.push(placedAt);
      } else if (TERMINAL.has(type) && open.has(orderId)) {
        const placedAt = open.get(orderId);
        open.delete(orderId);
        const endedAt = msg.info.timestampNanos / 1e6;
        const reason = type === 'OrderCancelled' ? (msg.json().data?.reason ?? 'UNKNOWN') : undefined;
        ended.push({
          placedAt,
          endedAt,
          latencyMs: endedAt - placedAt,
          outcome: type === 'OrderCompleted' ? 'COMPLETED' : 'CANCELLED',
          reason,
        });
      }
      for (const waiter of waiters) waiter();
    }
  })();
  return {
    /** Sagas placed before `before` (ms) that have not ended. */
    openBefore(before) {
      let count = 0;
      for (const placedAt of open.values()) if (placedAt < before) count += 1;
      return count;
    },
    /** Resolves when every saga placed before `before` ended, or after `timeoutMs`; returns how many are still open. */
    async drain(before, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (this.openBefore(before) > 0 && Date.now() < deadline) {
        await new Promise((resolve) => {
          const timer = setTimeout(done, Math.max(0, Math.min(250, deadline - Date.now())));
          function done() {
            clearTimeout(timer);
            waiters.delete(done);
            resolve();
          }
          waiters.add(done);
        });
      }
      return this.openBefore(before);
    },
    /** Checkout instants in [from, to), sorted. */
    placementsIn(from, to) {
      return placements.filter((at) => at >= from && at < to).sort((a, b) => a - b);
    },
    /** Sagas placed in [from, to). */
    placedIn(from, to) {
      return ended.filter((saga) => saga.placedAt >= from && saga.placedAt < to);
    },
    /** Sagas that ended in [from, to), whenever placed. */
    endedIn(from, to) {
      return ended.filter((saga) => saga.endedAt >= from && saga.endedAt < to);
    },
    async stop() {
      messages.stop();
      await loop;
    },
  };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export function latencySummary(sagas) {
  const sorted = sagas.map((saga) => saga.latencyMs).sort((a, b) => a - b);
  const at = (p) => (sorted.length ? Math.round(percentile(sorted, p) * 10) / 10 : null);
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: at(100) };
}
