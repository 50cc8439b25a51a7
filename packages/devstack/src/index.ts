export {
  type DevIssuer,
  type DevIssuerOptions,
  type DevTokenOptions,
  type DevTokenSigner,
  devIssuerJwks,
  devTokenSigner,
  type IssuerInfo,
  parseTtl,
  startDevIssuer,
} from './dev-issuer.js';
export {
  adminCredentials,
  credentialsOf,
  generatePasswords,
  inboxPrefixOf,
  loadTopologyConsumers,
  NATS_ADMIN_USER,
  NATS_SERVICES,
  type NatsAuth,
  natsAuthFor,
  natsAuthorizationConfig,
  type NatsCredentials,
  type NatsPermissions,
  type NatsUser,
  natsUsers,
  passwordVariable,
  type SubjectPermissions,
  TOPOLOGY_DIR,
  type TopologyConsumer,
  topologyConsumers,
} from './nats-auth.js';
export { type NatsCluster, type NatsServer, type NatsServerOptions, startNatsCluster, startNatsServer } from './nats-server.js';
export {
  type AlertmanagerOptions,
  type AlertmanagerServer,
  startAlertmanager,
  type JaegerOptions,
  type JaegerServer,
  type PrometheusOptions,
  type PrometheusServer,
  startJaeger,
  startPrometheus,
} from './observability-servers.js';
export {
  ensureHydra,
  HYDRA_VERSION,
  type HydraClient,
  type HydraClientSpec,
  type HydraOptions,
  type HydraServer,
  type HydraTokenRequest,
  startHydra,
} from './hydra.js';
export {
  ALERTMANAGER_MINIMUM,
  ensureAlertmanager,
  ensureJaeger,
  ensurePrometheus,
  JAEGER_VERSION,
  PROMETHEUS_MINIMUM,
  type PrometheusTools,
} from './observability-tools.js';
export { cachedTool, go, goInstalled, goToolModule, runTool, semver, ToolBuildError, toolOutput, toolVersion } from './go-build.js';
export { ensureMailpit, MAILPIT_VERSION, type MailpitOptions, type MailpitServer, startMailpit } from './mailpit.js';
export { freePort, isPortFree, preferredPort, waitFor } from './ports.js';
export { terminate } from './process.js';
export {
  applyDatabaseRoles,
  DATABASE_SERVICES,
  type DatabaseService,
  databaseRole,
  databaseRolesManifest,
  databaseRolesSql,
  derivedRolePassword,
  KEYRING_OWNER_ROLE,
  KEYRING_USER_ROLE,
  MONITORING_ROLE,
  rolePasswords,
  rolePasswordVariable,
  serviceDatabaseUrls,
  urlAs,
  withVariables,
} from './database-roles.js';
export { type PostgresOptions, type PostgresServer, startPostgres } from './postgres.js';
export { type ProcessSpec, Supervisor, type SupervisorEvent, type SupervisorOptions } from './supervisor.js';
export {
  DEFAULT_PORTS,
  METRICS_PORT_OFFSET,
  newAuditSigningKey,
  newKeyEncryptionKey,
  REPO_ROOT,
  type RunningSystem,
  SERVICES,
  type ServiceName,
  type SystemOptions,
  serviceEntry,
  serviceEnvironment,
  startSystem,
  TELEMETRY_PRELOAD,
} from './system.js';
export { createTestDatabase, startTestNats, type TestEnvironment } from './testing.js';
export {
  cacheDir,
  checkNatsServerVersion,
  compareVersions,
  ensureNatsServer,
  NATS_SERVER_MINIMUM,
  NATS_SERVER_VERSION,
  parseNatsServerVersion,
  type Say,
} from './tools.js';
export { ensureK6, ensureNatsCli, ensureTemporalCli, K6_VERSION, NATSCLI_VERSION, TEMPORAL_CLI_VERSION } from './bench-tools.js';
