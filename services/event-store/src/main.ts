import { loadConfig, readQuery, runService } from '@jetsaga/platform';
import { Hono } from 'hono';
import { z } from 'zod';
import { advisoryConsumer } from './dlq/advisories.js';
import { dlqRoutes } from './dlq/routes.js';
import { eventRoutes } from './events/routes.js';
import { registerLagGauges } from './metrics.js';
import { migrations } from './migrations.js';
import { pauseWhenArmed } from './mirror/fault.js';
import { Mirror } from './mirror/mirror.js';
import { verifyMirror } from './mirror/verify.js';
import { PROJECTIONS } from './projections/definitions.js';
import { ProjectionEngine } from './projections/engine.js';
import { readModelRoutes } from './projections/routes.js';
import { sagaRoutes } from './sagas/routes.js';
import { stateRoutes } from './state/routes.js';
import { streamRoutes } from './streams/routes.js';

/** Fault injection for the mirror crash test (mirror/fault.ts); unset outside tests. */
const faults = z.object({ MIRROR_FAULT_PAUSE_FILE: z.string().min(1).optional() });

const verifyQuery = z.strictObject({
  fromPosition: z.coerce.number().int().min(1).optional(),
  toPosition: z.coerce.number().int().min(1).optional(),
});

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
  routes: (deps) =>
    new Hono()
      .route('/', eventRoutes(deps))
      .route('/', streamRoutes(deps))
      .route('/', stateRoutes(deps))
      .route('/', sagaRoutes(deps))
      .route('/', readModelRoutes(deps, engine))
      .route('/', dlqRoutes(deps))
      .get('/api/event-store/status', async (c) => c.json({ mirror: await mirror.status(), projections: await engine.status() }))
      .get('/api/event-store/verify', async (c) => {
        const query = readQuery(c, verifyQuery);
        return c.json(await verifyMirror(deps.db, deps.nc, { from: query.fromPosition, to: query.toPosition }));
      })
      .post('/api/event-store/mirror/reset', async (c) => {
        await mirror.reset();
        return c.json(await mirror.status(), 202);
      }),
});
