/**
 * A relay in its own process, for the crash test: with RELAY_MODE=hang-after-publish it stops right after JetStream
 * acknowledged a batch and before marking it sent, says so on stdout, and waits to be killed -9.
 */
import { createPool } from './db.js';
import { createLogger } from './log.js';
import { connectNats } from './nats.js';
import { OutboxRelay } from './outbox.js';

const { DATABASE_URL, NATS_URL, RELAY_SCHEMA, RELAY_MODE } = process.env;
if (!DATABASE_URL || !NATS_URL || !RELAY_SCHEMA) throw new Error('DATABASE_URL, NATS_URL and RELAY_SCHEMA are required');

const db = createPool(DATABASE_URL, RELAY_SCHEMA);
const nc = await connectNats(NATS_URL, 'relay-fixture');
const relay = new OutboxRelay({
  db,
  nc,
  schema: RELAY_SCHEMA,
  log: createLogger('relay-fixture', 'warn'),
  afterPublish:
    RELAY_MODE === 'hang-after-publish'
      ? async (positions) => {
          process.stdout.write(`published ${positions.length}\n`);
          await new Promise(() => undefined);
        }
      : undefined,
});
relay.start();
process.stdout.write('started\n');
