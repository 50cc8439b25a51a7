/**
 * A relay in its own process, for the crash test. With RELAY_STOP_AT=read it stops once it has read a batch and
 * before publishing any of it; with RELAY_STOP_AT=published, once JetStream acknowledged the batch and before marking
 * it sent. Either way it says so on stdout (`stopped at <point>: <rows> rows`) and waits to be killed -9.
 */
import { createPool } from './db.js';
import { createLogger } from './log.js';
import { connectNats } from './nats.js';
import { OutboxRelay, type RelayFaultPoint } from './outbox.js';

const { DATABASE_URL, NATS_URL, RELAY_SCHEMA, RELAY_STOP_AT } = process.env;
if (!DATABASE_URL || !NATS_URL || !RELAY_SCHEMA) throw new Error('DATABASE_URL, NATS_URL and RELAY_SCHEMA are required');
const stopAt = RELAY_STOP_AT as RelayFaultPoint | undefined;

const db = createPool(DATABASE_URL, RELAY_SCHEMA);
const nc = await connectNats(NATS_URL, 'relay-fixture', { user: process.env.NATS_USER, password: process.env.NATS_PASSWORD });
const relay = new OutboxRelay({
  db,
  nc,
  schema: RELAY_SCHEMA,
  log: createLogger('relay-fixture', 'warn'),
  faultPoint: stopAt
    ? async (point, positions) => {
        if (point !== stopAt) return;
        process.stdout.write(`stopped at ${point}: ${positions.length} rows\n`);
        await new Promise(() => undefined);
      }
    : undefined,
});
relay.start();
process.stdout.write('started\n');
