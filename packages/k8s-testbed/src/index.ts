// Kubernetes built from source for the checks: the tools, a kube-apiserver test server, a real single-node cluster
// on this machine (host safety, PKI, components, teardown), images without a registry, charts, port-forwards.
export { ALL_CHARTS, prepareCharts, SERVICE_CHARTS, writeDatabaseRoles, writeNatsAuthorization } from './charts.js';
export { type Cluster, collectDiagnostics, type Kubectl, kubectlFor, makeVolumeDirs, startCluster } from './cluster.js';
export { jaegerManifests, TRACING_NAMESPACE } from './config-files.js';
export { CLUSTER_NETWORK, GUARD_CHAIN } from './host-safety.js';
export { buildClusterImages, exportImages } from './images.js';
export { type KubeApiserver, type KubeResponse, kubeRequest, startKubeApiserver } from './api-server.js';
export { KubeClient, type KubeObject, type KubeTestServer } from './kube-client.js';
export { NODE_NAME } from './layout.js';
export { createCa, signCertificate } from './pki.js';
export { startPortForward } from './port-forward.js';
export { tearDownCluster } from './teardown.js';
export { ensureClusterBinaries, ensureEtcd, ensureHelm, ensureKubeApiserver, ensureTiltfileLint } from './tools.js';
