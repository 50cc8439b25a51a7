export { type NatsCluster, type NatsServer, type NatsServerOptions, startNatsCluster, startNatsServer } from './nats-server.js';
export {
  type JaegerOptions,
  type JaegerServer,
  type PrometheusOptions,
  type PrometheusServer,
  startJaeger,
  startPrometheus,
} from './observability-servers.js';
export { ensureJaeger, ensurePrometheus, JAEGER_VERSION, PROMETHEUS_MINIMUM, type PrometheusTools } from './observability-tools.js';
export { freePort, isPortFree, preferredPort, waitFor } from './ports.js';
export { type PostgresOptions, type PostgresServer, startPostgres } from './postgres.js';
export { type ProcessSpec, Supervisor, type SupervisorEvent, type SupervisorOptions } from './supervisor.js';
export {
  DEFAULT_PORTS,
  METRICS_PORT_OFFSET,
  REPO_ROOT,
  type RunningSystem,
  SERVICES,
  type ServiceName,
  type SystemOptions,
  serviceEntry,
  startSystem,
  TELEMETRY_PRELOAD,
} from './system.js';
export { createTestDatabase, startTestNats, type TestEnvironment } from './testing.js';
export {
  cacheDir,
  compareVersions,
  ensureNatsServer,
  NATS_SERVER_MINIMUM,
  NATS_SERVER_VERSION,
  parseNatsServerVersion,
  type Say,
} from './tools.js';
export {
  ensureEtcd,
  ensureHelm,
  ensureKubeApiserver,
  ensureKubernetesComponent,
  ensureTiltfileLint,
  ETCD_VERSION,
  HELM_VERSION,
  KUBERNETES_VERSION,
  ToolBuildError,
} from './k8s-tools.js';
export { ALL_CHARTS, type PreparedCharts, prepareCharts, SERVICE_CHARTS, UMBRELLA_CHART } from './charts.js';
export {
  type KubeApiserver,
  type KubeApiserverOptions,
  type KubeResponse,
  kubeGet,
  kubeRequest,
  startKubeApiserver,
} from './kube-apiserver.js';
export { KubeApiError, KubeClient, type KubeObject, type KubeTestServer } from './k8s-testing.js';
export { ensureK6, ensureNatsCli, K6_VERSION, NATSCLI_VERSION } from './bench-tools.js';
export {
  type ClusterBinaries,
  COREDNS_VERSION,
  ensureClusterBinaries,
  ensureCoreDns,
  ensureHostPackages,
  ensureKubectl,
  ensureNodeComponent,
  ensurePause,
} from './cluster-tools.js';
export { buildClusterImages, type ClusterImages, exportImages, type ImageInputs } from './cluster-images.js';
export { CLUSTER_NETWORK, GUARD_CHAIN, TOUCHED_SYSCTLS } from './cluster-host.js';
export {
  CLUSTER_LOG_DIR,
  CLUSTER_WORK_DIR,
  type Cluster,
  type ClusterOptions,
  collectDiagnostics,
  type Kubectl,
  kubectlFor,
  makeVolumeDirs,
  NODE_NAME,
  startCluster,
  tearDownCluster,
} from './cluster.js';
export { type PortForward, type PortForwardOptions, startPortForward } from './port-forward.js';
