import { ApiException, KubeConfig } from '@kubernetes/client-node';

/** The HTTP status of a failed Kubernetes API call (client-node throws ApiException with `code`). */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown; statusCode?: unknown })?.code ?? (error as { statusCode?: unknown })?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFoundStatus = (error: unknown): boolean => statusOf(error) === 404;
export const isConflict = (error: unknown): boolean => statusOf(error) === 409;

/** In a pod: the mounted service account; elsewhere: KUBECONFIG or ~/.kube/config. */
export function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/** A KubeConfig for an API server known by URL, CA and bearer token (the k8s checks use this). */
export function kubeConfigFor(server: string, token: string, caData?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'jetsaga', server, caData, skipTLSVerify: caData === undefined }],
    users: [{ name: 'jetsaga', token }],
    contexts: [{ name: 'jetsaga', cluster: 'jetsaga', user: 'jetsaga' }],
    currentContext: 'jetsaga',
  });
  return kc;
}
