import type { KeyObject } from 'node:crypto';
import { ConfigError, loadConfig, runService } from '@jetsaga/platform';
import { z } from 'zod';
import { auditApi } from './api.js';
import { periodicVerify } from './chain/periodic.js';
import { parseSigningKey, SigningKeyError } from './chain/signing.js';
import { auditConsumers } from './entries/consumer.js';
import { migrations } from './migrations.js';
import { watchChain } from './metrics.js';

const config = loadConfig(
  z.object({
    /** The Ed25519 key that signs checkpoints: PKCS#8, PEM or the base64 of its DER. */
    AUDIT_SIGNING_KEY: z.string().min(1),
    /** A checkpoint is signed once this many entries have been appended since the last one. */
    AUDIT_CHECKPOINT_EVERY: z.coerce.number().int().positive().default(1000),
    /**
     * The whole chain is verified at start-up and then this often (ms; 0: only on demand), for the metric the chain
     * alert reads (jetsaga_audit_chain_ok). 15 minutes by default.
     */
    AUDIT_VERIFY_INTERVAL_MS: z.coerce.number().int().min(0).default(900_000),
  }),
);

const key = (() => {
  try {
    return parseSigningKey(config.AUDIT_SIGNING_KEY);
  } catch (error) {
    if (error instanceof SigningKeyError) throw new ConfigError(`AUDIT_SIGNING_KEY ${error.message}`);
    throw error;
  }
})();
const publicKeys = new Map<string, KeyObject>([[key.keyId, key.publicKey]]);

const service = await runService({
  name: 'audit',
  schema: 'audit',
  defaultPort: 8089,
  migrations,
  routes: (deps) => auditApi({ ...deps, key, publicKeys }),
  consumers: (deps) => auditConsumers(deps, { key, checkpointEvery: config.AUDIT_CHECKPOINT_EVERY }),
  workers: (deps) =>
    config.AUDIT_VERIFY_INTERVAL_MS > 0
      ? [periodicVerify({ db: deps.db, log: deps.log, publicKeys, intervalMs: config.AUDIT_VERIFY_INTERVAL_MS })]
      : [],
});
watchChain(service.deps.db, service.deps.now);
