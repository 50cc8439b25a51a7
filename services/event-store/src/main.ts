import { loadConfig, runService } from '@jetsaga/platform';
import { z } from 'zod';
import { eventStoreApi } from './api.js';
import { advisoryConsumer } from './dlq/advisories.js';
import { registerLagGauges } from './metrics.js';
import { migrations } from './migrations.js';
import { pauseWhenArmed } from './mirror/fault.js';
import { Mirror } from './mirror/mirror.js';
import { PROJECTIONS } from './projections/definitions.js';
import { ProjectionEngine } from './projections/engine.js';

/** Fault injection for the mirror crash test (mirror/fault.ts); unset outside tests. */
const faults = z.object({ MIRROR_FAULT_PAUSE_FILE: z.string().min(1).optional() });

let mirror: Mirror;
let engine: ProjectionEngine;

await runService({
  name: 'event-store',
  schema: 'eventstore',
  defaultPort: 8085,
  migrations,
  consumers: (deps) => [advisoryConsumer(deps)],
  workers: (deps) => {
    engine = new ProjectionEngine({ db: deps.db, log: deps.log, definitions: PROJECTIONS });
    const { MIRROR_FAULT_PAUSE_FILE } = loadConfig(faults, deps.env);
    mirror = new Mirror({
      db: deps.db,
      nc: deps.nc,
      log: deps.log,
      feed: (tx, batch) => engine.feed(tx, batch),
      onAdvance: (_position, projectionsBehind) => {
        if (projectionsBehind) engine.notify();
      },
      beforeCommit: MIRROR_FAULT_PAUSE_FILE ? pauseWhenArmed(MIRROR_FAULT_PAUSE_FILE) : undefined,
    });
    registerLagGauges(deps.nc, { mirror: () => mirror.status(), projections: () => engine.status() });
    return [mirror, engine];
  },
  routes: (deps) => eventStoreApi(deps, { mirror, engine }),
});
