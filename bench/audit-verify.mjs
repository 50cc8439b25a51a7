#!/usr/bin/env node
// `npm run bench:audit-verify`: how fast the audit trail verifies (entries/s), the figure that bounds
// AUDIT_VERIFY_INTERVAL_MS. Builds a trail of ENTRIES entries in an embedded Postgres with the service's own code
// (migrations, appendArrivals under the chain lock, a signed checkpoint every CHECKPOINT_EVERY entries, as the
// consumer does), then times ROUNDS verifications of the whole chain with verifyRange (hashes recomputed, every
// checkpoint's Ed25519 signature checked), as GET /api/audit/verify and the periodic verification run it.
//   ENTRIES (default 100000), CHECKPOINT_EVERY (default 1000), ROUNDS (default 3)
// Everything runs on loopback and stops by itself. Prints one line per round and the median.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startPostgres } from '../packages/devstack/dist/index.js';
import { createPool, migrate, withTransaction } from '../packages/platform/dist/index.js';
import { parseSigningKey, signCheckpoint } from '../services/audit/dist/chain/signing.js';
import { insertCheckpoint, verifyRange } from '../services/audit/dist/chain/store.js';
import { appendArrivals } from '../services/audit/dist/entries/append.js';
import { migrations } from '../services/audit/dist/migrations.js';

const ENTRIES = Number(process.env.ENTRIES ?? 100_000);
const CHECKPOINT_EVERY = Number(process.env.CHECKPOINT_EVERY ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const BATCH = 500;
const say = (message) => console.log(`[audit-verify] ${message}`);

/** An event as the trail receives it: a valid envelope, with data the size of a checkout's. */
function arrival(sequence) {
  const orderId = randomUUID();
  const id = randomUUID();
  const envelope = {
    id,
    type: sequence % 3 === 0 ? 'PaymentAccepted' : 'OrderPlaced',
    schemaVersion: 1,
    aggregateType: sequence % 3 === 0 ? 'payment' : 'order',
    aggregateId: orderId,
    occurredAt: new Date(Date.UTC(2026, 11, 1) + sequence * 10).toISOString(),
    correlationId: orderId,
    causationId: null,
    actor: 'customer:bench',
    data: {
      orderId,
      customerId: randomUUID(),
      amountCents: 1000 + (sequence % 5000),
      lines: [{ productId: randomUUID(), quantity: 1 + (sequence % 3), unitPriceCents: 990 }],
    },
  };
  return {
    event: {
      envelope,
      id,
      type: envelope.type,
      aggregateType: envelope.aggregateType,
      aggregateId: envelope.aggregateId,
      correlationId: envelope.correlationId,
      actor: envelope.actor,
      occurredAt: envelope.occurredAt,
      data: envelope.data,
    },
    subject: `events.${envelope.aggregateType}.${orderId}.${envelope.type}`,
    streamSequence: sequence,
  };
}

const dir = await mkdtemp(join(tmpdir(), 'jetsaga-audit-bench-'));
// Postgres runs as its own user (when we are root): it must be able to reach its directory inside this one.
await chmod(dir, 0o755);
const postgres = await startPostgres({ dir: join(dir, 'pg'), ephemeral: true, fast: true });
const db = createPool(await postgres.createDatabase('audit_bench'), 'audit', { max: 2 });
try {
  await migrate(db, 'audit', migrations);
  const key = parseSigningKey(generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
  const publicKeys = new Map([[key.keyId, key.publicKey]]);

  const seeding = performance.now();
  let lastSigned = 0;
  for (let sequence = 1; sequence <= ENTRIES; sequence += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, ENTRIES - sequence + 1) }, (_, i) => arrival(sequence + i));
    await withTransaction(db, async (tx) => {
      const appended = await appendArrivals(tx, batch, new Date().toISOString());
      const head = appended.at(-1);
      if (head && head.position - lastSigned >= CHECKPOINT_EVERY) {
        await insertCheckpoint(tx, signCheckpoint(key, head.position, head.hash, new Date().toISOString()));
        lastSigned = head.position;
      }
    });
  }
  say(`${ENTRIES} entries appended in ${((performance.now() - seeding) / 1000).toFixed(1)} s, checkpoint every ${CHECKPOINT_EVERY}`);

  const rates = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const started = performance.now();
    const result = await verifyRange(db, publicKeys, {});
    const seconds = (performance.now() - started) / 1000;
    if (!result.ok || result.checked !== ENTRIES) throw new Error(`verification did not hold: ${JSON.stringify(result)}`);
    rates.push(result.checked / seconds);
    say(
      `round ${round}: ${result.checked} entries, ${result.checkpoints} signatures in ${seconds.toFixed(2)} s = ${Math.round(result.checked / seconds)} entries/s`,
    );
  }
  const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)];
  say(`median ${Math.round(median)} entries/s on ${cpus()[0]?.model ?? 'this CPU'} (${cpus().length} cores), Postgres on loopback`);
} finally {
  await db.end();
  await postgres.stop();
  await rm(dir, { recursive: true, force: true });
}
