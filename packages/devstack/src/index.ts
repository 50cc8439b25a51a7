export { startNatsServer, type NatsServer, type NatsServerOptions } from './nats-server.js';
export { freePort, isPortFree, preferredPort, waitFor } from './ports.js';
export { startPostgres, type PostgresOptions, type PostgresServer } from './postgres.js';
export { type ProcessSpec, Supervisor, type SupervisorEvent, type SupervisorOptions } from './supervisor.js';
export {
  DEFAULT_PORTS,
  REPO_ROOT,
  type RunningSystem,
  SERVICES,
  type ServiceName,
  type SystemOptions,
  serviceEntry,
  startSystem,
} from './system.js';
export {
  cacheDir,
  compareVersions,
  ensureNatsServer,
  NATS_SERVER_MINIMUM,
  NATS_SERVER_VERSION,
  parseNatsServerVersion,
  type Say,
} from './tools.js';
export { createTestDatabase, startTestNats, type TestEnvironment } from './testing.js';
