import type { KeyObject } from 'node:crypto';
import type { Db, Logger, Worker } from '@jetsaga/platform';
import { recordVerify } from '../metrics.js';
import { type VerifyResult, verifyRange } from './store.js';

export type PeriodicVerifyOptions = {
  db: Pick<Db, 'query'>;
  log: Pick<Logger, 'info' | 'error'>;
  publicKeys: ReadonlyMap<string, KeyObject>;
  /** Milliseconds between the end of one verification and the start of the next. */
  intervalMs: number;
  /** The verification itself (the whole chain by default); tests pass their own. */
  verify?: () => Promise<VerifyResult>;
};

/**
 * Recomputes the whole chain and checks every checkpoint signature at start-up, then every `intervalMs` after the
 * previous one ended (never two at once, however long one takes). The verdict becomes `jetsaga_audit_chain_ok`, which
 * JetsagaAuditChainBroken alerts on; a verification that could not run (the database away) leaves the last verdict
 * as it was and is logged, and the next interval tries again.
 */
export function periodicVerify(options: PeriodicVerifyOptions): Worker & { runs(): number } {
  const verify = options.verify ?? (() => verifyRange(options.db, options.publicKeys, {}));
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let runs = 0;

  const once = async () => {
    const started = performance.now();
    try {
      const result = await verify();
      const seconds = (performance.now() - started) / 1000;
      recordVerify(result, seconds);
      runs += 1;
      if (result.ok) options.log.info({ checked: result.checked, to: result.to, seconds }, 'audit chain verified');
      else options.log.error({ firstBroken: result.firstBroken, checked: result.checked }, 'audit chain broken');
    } catch (error) {
      options.log.error({ err: error }, 'audit chain verification could not run');
    }
  };
  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = once().finally(() => {
        running = undefined;
        schedule(options.intervalMs);
      });
    }, delayMs);
  };

  return {
    start() {
      schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    runs: () => runs,
  };
}
