import { type ServiceDeps, serviceApi } from '@jetsaga/platform';
import { dlqRoutes } from './dlq/routes.js';
import { eventRoutes } from './events/routes.js';
import type { Mirror } from './mirror/mirror.js';
import { mirrorRoutes } from './mirror/routes.js';
import type { ProjectionEngine } from './projections/engine.js';
import { readModelRoutes } from './projections/routes.js';
import { sagaRoutes } from './sagas/routes.js';
import { stateRoutes } from './state/routes.js';
import { streamRoutes } from './streams/routes.js';

/** The event store's HTTP API, and its OpenAPI document at /openapi.json. */
export function eventStoreApi(deps: ServiceDeps, workers: { mirror: Mirror; engine: ProjectionEngine }) {
  return serviceApi(
    {
      title: 'jetsaga event store',
      version: '0.1.0',
      description: 'The Postgres mirror of the EVENTS stream: queries, streams, state rebuilds, read models, projections, dead letters.',
    },
    [
      eventRoutes(deps),
      streamRoutes(deps),
      stateRoutes(deps),
      sagaRoutes(deps),
      readModelRoutes(deps, workers.engine),
      dlqRoutes(deps),
      mirrorRoutes(deps, workers),
    ],
  );
}
