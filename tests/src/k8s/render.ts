import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KubeObject } from '@jetsaga/k8s-testbed';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

export type RenderOptions = { release?: string; namespace?: string; values?: string[]; set?: string[] };

/** `helm template` of a prepared chart, parsed into objects (comments and empty documents dropped). */
export async function helmTemplate(helm: string, chart: string, options: RenderOptions = {}): Promise<KubeObject[]> {
  const args = ['template', options.release ?? 'jetsaga', chart, '--namespace', options.namespace ?? 'default'];
  for (const file of options.values ?? []) args.push('--values', join(chart, file));
  for (const pair of options.set ?? []) args.push('--set', pair);
  const { stdout } = await run(helm, args, { maxBuffer: 64 * 1024 * 1024, timeout: 60_000 });
  return parseAllDocuments(stdout)
    .map((document) => document.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null && typeof object === 'object' && 'kind' in object);
}

/** `helm lint --strict`; resolves with its output, rejects with it when the chart fails. */
export async function helmLint(helm: string, chart: string, values: string[] = []): Promise<string> {
  const args = ['lint', '--strict', chart, ...values.flatMap((file) => ['--values', join(chart, file)])];
  const { stdout, stderr } = await run(helm, args, { timeout: 60_000 });
  return stdout + stderr;
}

export const byKind = (objects: KubeObject[], kind: string) => objects.filter((object) => object.kind === kind);

export function find(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`${kind} ${name} not rendered; have ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

// Narrow accessors for the parts of workloads the assertions read.
export type Container = {
  name: string;
  image: string;
  command?: string[];
  ports?: { name: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  livenessProbe?: { httpGet?: { path: string; port: string } };
  readinessProbe?: { httpGet?: { path: string; port: string } };
  startupProbe?: unknown;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
};
export type PodSpec = {
  securityContext?: Record<string, unknown>;
  containers: Container[];
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  volumes?: Array<{ name: string; secret?: { secretName: string; items?: { key: string; path: string }[] } }>;
};

export function podSpec(workload: KubeObject): PodSpec {
  return (workload as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

export function spec<T = Record<string, unknown>>(object: KubeObject): T {
  return (object as unknown as { spec: T }).spec;
}
