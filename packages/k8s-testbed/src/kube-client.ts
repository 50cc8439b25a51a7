import type {} from 'vitest';
import { type KubeApiserver, type KubeResponse, kubeGet, kubeRequest } from './api-server.js';

/** What the k8s project's global set-up (tests/src/k8s/global-setup.ts) provides to every *.k8s.test.ts file. */
export type KubeTestServer = Pick<KubeApiserver, 'url' | 'token' | 'caPem' | 'kubeconfig'>;

declare module 'vitest' {
  export interface ProvidedContext {
    kube: KubeTestServer;
    helmBin: string;
    /** A prepared copy of charts/ (dependencies built, topology and observability files copied in). */
    chartsDir: string;
    tiltfileLintBin: string;
  }
}

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
};

type ResourceInfo = { plural: string; namespaced: boolean };

export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    message: string,
    readonly response: KubeResponse,
  ) {
    super(message);
  }
}

/** Maps apiVersion + kind to the REST path segment, asking the API server's discovery (cached per client). */
export class KubeClient {
  private readonly discovery = new Map<string, Map<string, ResourceInfo>>();

  constructor(
    readonly server: KubeTestServer,
    readonly fieldManager = 'jetsaga-checks',
  ) {}

  private async resources(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    const cached = this.discovery.get(apiVersion);
    if (cached) return cached;
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const response = await kubeGet(this.server, path);
    if (response.status !== 200) throw new KubeApiError(`discovery of ${apiVersion} answered ${response.status}`, response);
    const list = JSON.parse(response.body) as { resources: { name: string; kind: string; namespaced: boolean }[] };
    const byKind = new Map<string, ResourceInfo>();
    for (const resource of list.resources) {
      if (!resource.name.includes('/')) byKind.set(resource.kind, { plural: resource.name, namespaced: resource.namespaced });
    }
    this.discovery.set(apiVersion, byKind);
    return byKind;
  }

  /** Forgets discovery results, e.g. after installing CRDs. */
  forgetDiscovery(): void {
    this.discovery.clear();
  }

  async pathOf(object: Pick<KubeObject, 'apiVersion' | 'kind'> & { metadata: { name?: string; namespace?: string } }, namespace?: string) {
    const info = (await this.resources(object.apiVersion)).get(object.kind);
    if (!info) throw new Error(`the API server does not serve ${object.apiVersion} ${object.kind}`);
    const base = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
    const ns = object.metadata.namespace ?? namespace;
    const scope = info.namespaced ? `/namespaces/${ns}` : '';
    return `${base}${scope}/${info.plural}${object.metadata.name ? `/${object.metadata.name}` : ''}`;
  }

  /** Server-side apply of one object; the response carries the API server's warnings. */
  async apply(object: KubeObject, namespace?: string): Promise<KubeResponse> {
    const path = `${await this.pathOf(object, namespace)}?fieldManager=${this.fieldManager}&force=true&fieldValidation=Strict`;
    const response = await kubeRequest(this.server, 'PATCH', path, {
      contentType: 'application/apply-patch+yaml',
      text: JSON.stringify(object),
    });
    if (response.status >= 300) {
      throw new KubeApiError(`apply ${object.kind} ${object.metadata.name}: ${response.status} ${response.body}`, response);
    }
    return response;
  }

  async get<T = KubeObject>(object: Parameters<KubeClient['pathOf']>[0], namespace?: string): Promise<T | undefined> {
    const response = await kubeGet(this.server, await this.pathOf(object, namespace));
    if (response.status === 404) return undefined;
    if (response.status !== 200) throw new KubeApiError(`get ${object.kind} ${object.metadata.name}: ${response.status}`, response);
    return JSON.parse(response.body) as T;
  }

  async delete(object: Parameters<KubeClient['pathOf']>[0], namespace?: string): Promise<KubeResponse> {
    return kubeRequest(this.server, 'DELETE', await this.pathOf(object, namespace));
  }

  /** Waits until every CRD named is Established (its REST endpoints served). */
  async crdEstablished(name: string): Promise<boolean> {
    const response = await kubeGet(this.server, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
    if (response.status !== 200) return false;
    const crd = JSON.parse(response.body) as { status?: { conditions?: { type: string; status: string }[] } };
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
  }
}
