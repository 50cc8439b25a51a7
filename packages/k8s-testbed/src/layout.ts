/** One cluster per machine: fixed names (links, chains, ports on the node address) and a fixed work directory. */
export const CLUSTER_WORK_DIR = '/var/tmp/jetsaga-cluster';
/** Logs of the last run, kept after the teardown (the work directory is not). */
export const CLUSTER_LOG_DIR = '/var/tmp/jetsaga-cluster-logs';
export const NODE_NAME = 'jetsaga-node';
/** The CNI network's name: its results under /var/lib/cni are the run's own. */
export const CNI_NETWORK = 'jetsaga';
/** The API server's port on the node address. */
export const API_PORT = 6443;
