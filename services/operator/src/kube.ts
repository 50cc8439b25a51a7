import {
  ApiException,
  type Configuration,
  createConfiguration,
  type HttpLibrary,
  KubeConfig,
  type ResponseContext,
  ServerConfiguration,
  wrapHttpLibrary,
} from '@kubernetes/client-node';

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

/**
 * How long a client keeps trying when the API server answers 429 (API Priority and Fairness, or max-in-flight):
 * at most `attempts` requests in all and `totalMs` of waiting, each wait what `Retry-After` asks (capped at
 * `maxWaitMs`), or a short doubling back-off when the answer carries no `Retry-After`.
 */
export type ThrottlePolicy = { attempts: number; totalMs: number; maxWaitMs: number; backoffMs: number };

export const THROTTLE_POLICY: ThrottlePolicy = { attempts: 8, totalMs: 30_000, maxWaitMs: 10_000, backoffMs: 200 };

/** The wait before attempt `attempt + 1`, from a 429's Retry-After (seconds or an HTTP date). */
export function throttleDelayMs(retryAfter: string | undefined, attempt: number, policy: ThrottlePolicy, now = Date.now()): number {
  const backoff = Math.min(policy.backoffMs * 2 ** (attempt - 1), policy.maxWaitMs);
  if (retryAfter === undefined || retryAfter.trim() === '') return backoff;
  const seconds = Number(retryAfter);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - now;
  return Number.isNaN(ms) ? backoff : Math.min(Math.max(ms, 0), policy.maxWaitMs);
}

/**
 * Sends again, within the policy's bounds, what the API server refused with 429; any other answer passes through.
 * `signal`, when given, is asked for an AbortSignal per request: an aborted request fails at once (the Lease client
 * gives up an attempt at its renew deadline instead of waiting on a connection that no longer answers).
 */
export function honoringThrottling(
  inner: HttpLibrary,
  policy: ThrottlePolicy = THROTTLE_POLICY,
  signal?: () => AbortSignal | undefined,
): HttpLibrary {
  return wrapHttpLibrary({
    async send(request): Promise<ResponseContext> {
      const abort = signal?.();
      if (abort) request.setSignal(abort);
      let waited = 0;
      for (let attempt = 1; ; attempt++) {
        const response = await inner.send(request).toPromise();
        if (response.httpStatusCode !== 429 || attempt >= policy.attempts) return response;
        const delay = throttleDelayMs(response.headers['retry-after'], attempt, policy);
        if (waited + delay > policy.totalMs || abort?.aborted) return response;
        await response.body.text().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, delay));
        waited += delay;
      }
    },
  });
}

/**
 * `kubeConfig.makeApiClient(api)` with the 429 retries of `honoringThrottling`: every call the operator makes to
 * the API server goes through one of these.
 */
export function makeApiClient<T>(
  kubeConfig: KubeConfig,
  api: new (configuration: Configuration) => T,
  policy = THROTTLE_POLICY,
  signal?: () => AbortSignal | undefined,
): T {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const base = createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kubeConfig } });
  return new api({ ...base, httpApi: honoringThrottling(base.httpApi, policy, signal) });
}
