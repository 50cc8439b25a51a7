import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@jetsaga/devstack';
import { describe, expect, inject, it } from 'vitest';
import { helmTemplate, podSpec } from './render.js';

const run = promisify(execFile);
const lint = inject('tiltfileLintBin');
const helm = inject('helmBin');
const charts = inject('chartsDir');

type Call = { fn: string; args: Record<string, any>; at: string };

/** Executes the Tiltfile in go.starlark.net with recording stand-ins for Tilt's built-ins (a lint, not a Tilt run). */
async function lintTiltfile(path = join(REPO_ROOT, 'Tiltfile'), args: string[] = []): Promise<Call[]> {
  const { stdout } = await run(lint, [...args.flatMap((arg) => ['-arg', arg]), path], { cwd: REPO_ROOT, timeout: 30_000 });
  return (JSON.parse(stdout) as { calls: Call[] }).calls;
}

const calls = (all: Call[], fn: string) => all.filter((call) => call.fn === fn);

/** Tilt's resource names: new_name when given, else the workload. */
function resources(all: Call[]) {
  return calls(all, 'k8s_resource').map((call) => ({
    name: (call.args.new_name as string | undefined) ?? (call.args.workload as string),
    workload: call.args.workload as string,
    labels: (call.args.labels ?? []) as string[],
    deps: (call.args.resource_deps ?? []) as string[],
    forwards: ((call.args.port_forwards ?? []) as { local_port: number; container_port: number; name: string }[]).map((forward) => ({
      local: forward.local_port,
      container: forward.container_port,
    })),
    objects: (call.args.objects ?? []) as string[],
  }));
}

describe('the Tiltfile (run in a real Starlark interpreter with recording Tilt stand-ins)', () => {
  it('builds the one image with live updates: sync the sources, compile in the container, rebuild on dependency changes', async () => {
    const all = await lintTiltfile();
    const [build] = calls(all, 'docker_build');
    expect(build?.args).toMatchObject({ ref: 'jetsaga', context: '.', dockerfile: 'Dockerfile', target: 'dev' });
    const steps = build!.args.live_update as Record<string, any>[];
    expect(steps[0]).toMatchObject({ kind: 'fall_back_on' });
    expect(steps[0]!.files).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']));
    const syncs = steps.filter((step) => step.kind === 'sync').map((step) => [step.local_path, step.remote_path]);
    expect(syncs).toEqual([
      ['packages', '/app/packages'],
      ['services', '/app/services'],
    ]);
    for (const [local] of syncs) expect(existsSync(join(REPO_ROOT, local))).toBe(true);
    expect(steps.at(-1)).toMatchObject({ kind: 'run', cmd: 'npx tsc -b', trigger: ['packages', 'services'] });
    // The synced paths are where the Dockerfile's dev stage keeps the app, and that stage can compile.
    const dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/FROM \S+ AS build\nWORKDIR \/app/);
    expect(dockerfile).toMatch(/FROM build AS dev/);
  });

  it('deploys the umbrella chart into a restricted namespace with the observability profile', async () => {
    const all = await lintTiltfile();
    const [chart] = calls(all, 'helm');
    expect(chart?.args).toMatchObject({
      paths: 'charts/jetsaga',
      namespace: 'jetsaga',
      values: ['charts/jetsaga/values.yaml', 'charts/jetsaga/values-observability.yaml'],
    });
    const namespace = calls(all, 'blob')[0]?.args.contents as string;
    expect(namespace).toMatch(/pod-security\.kubernetes\.io\/enforce: restricted/);
    expect(calls(all, 'local')[0]?.args.command).toMatch(/charts\.mjs prepare/);
  });

  it('port-forwards the gateway (8080), Mailpit, Grafana, Tempo, Alertmanager and NATS monitoring to container ports that exist', async () => {
    const all = await lintTiltfile();
    const chart = calls(all, 'helm')[0]!.args;
    const objects = await helmTemplate(helm, join(charts, 'jetsaga'), {
      namespace: 'jetsaga',
      values: (chart.values as string[]).map((file) => file.replace('charts/jetsaga/', '')),
      set: chart.set as string[],
    });
    const workloads = new Map(
      objects
        .filter((object) => object.kind === 'Deployment' || object.kind === 'StatefulSet')
        .map((object) => [object.metadata.name, object]),
    );
    const byName = new Map(resources(all).map((resource) => [resource.name, resource]));
    const expected: Record<string, number> = { gateway: 8080, mailpit: 8025, grafana: 3000, tempo: 3200, alertmanager: 9093, nats: 8222 };
    for (const [name, port] of Object.entries(expected)) {
      const resource = byName.get(name);
      expect(resource?.forwards, name).toContainEqual({ local: port, container: port });
      const containerPorts = podSpec(workloads.get(resource!.workload)!).containers.flatMap((c) =>
        (c.ports ?? []).map((p) => p.containerPort),
      );
      expect(containerPorts, name).toContain(port);
    }
  });

  it('names every rendered workload as a resource, labels each, and orders them with resource_deps that exist', async () => {
    const all = await lintTiltfile();
    const chart = calls(all, 'helm')[0]!.args;
    const objects = await helmTemplate(helm, join(charts, 'jetsaga'), {
      namespace: 'jetsaga',
      values: (chart.values as string[]).map((file) => file.replace('charts/jetsaga/', '')),
      set: chart.set as string[],
    });
    const workloads = objects.filter((object) => object.kind === 'Deployment' || object.kind === 'StatefulSet').map((o) => o.metadata.name);
    const declared = resources(all);
    expect(declared.map((resource) => resource.workload).sort()).toEqual([...workloads].sort());
    const names = new Set(declared.map((resource) => resource.name));
    for (const resource of declared) {
      expect(resource.labels.length, resource.name).toBeGreaterThan(0);
      for (const dep of resource.deps) expect(names, `${resource.name} depends on ${dep}`).toContain(dep);
    }
    const deps = (name: string) => declared.find((resource) => resource.name === name)!.deps;
    expect(deps('order')).toEqual(['nats', 'postgres', 'operator']);
    expect(deps('operator')).toEqual(['nats']);
    expect(deps('gateway')).toEqual(
      expect.arrayContaining(['order', 'inventory', 'payment', 'sales', 'support', 'shipping', 'notification', 'audit', 'event-store']),
    );
    // Acyclic: a topological order exists.
    const done = new Set<string>();
    for (let round = 0; round < declared.length && done.size < declared.length; round++) {
      for (const resource of declared) if (resource.deps.every((dep) => done.has(dep))) done.add(resource.name);
    }
    expect(done.size).toBe(declared.length);
    // The operator's resource groups the topology objects the chart renders.
    const operatorObjects = declared.find((resource) => resource.name === 'operator')!.objects;
    for (const object of objects.filter((o) => o.kind === 'EventStream' || o.kind === 'EventConsumer')) {
      expect(operatorObjects).toContain(`${object.metadata.name}:${object.kind.toLowerCase()}`);
    }
  });

  it('leaves the observability stack out with --observability=false', async () => {
    const all = await lintTiltfile(undefined, ['observability=false']);
    expect(resources(all).map((resource) => resource.name)).not.toEqual(expect.arrayContaining(['grafana']));
    expect(resources(all).some((resource) => ['grafana', 'tempo', 'prometheus', 'alertmanager'].includes(resource.name))).toBe(false);
    expect(calls(all, 'helm')[0]?.args.values).toEqual(['charts/jetsaga/values.yaml']);
  });

  it('fails on a call Tilt would reject (the lint can fail)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jetsaga-tiltfile-'));
    const broken = join(dir, 'Tiltfile');
    await writeFile(broken, "k8s_resource('jetsaga-gateway', port_forward=[8080])\n");
    await expect(lintTiltfile(broken)).rejects.toThrow(/unexpected keyword argument "port_forward"/);
    await writeFile(broken, "load('ext://restart_process', 'docker_build_with_restart')\n");
    await expect(lintTiltfile(broken)).rejects.toThrow(/extensions are not available/);
  });
});

describe('the Dockerfile (read, not built: no registry and no base image here)', () => {
  it("takes the base image as a build argument, runs the runtime stage as the chart's non-root user, one exec-ed process", async () => {
    const dockerfile = await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20[\w.-]*$/m);
    const stages = dockerfile.split(/^FROM /m).slice(1);
    const runtime = stages.at(-1)!;
    expect(runtime).toMatch(/^\$\{NODE_IMAGE\} AS runtime/);
    expect(runtime).toMatch(/^USER 1000:1000$/m);
    expect(runtime).not.toMatch(/^RUN /m);
    // One exec-ed node, with the OpenTelemetry preload exactly when an OTLP endpoint is set (as the charts do).
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(runtime)?.[1] ?? '[]') as string[];
    expect(cmd.slice(0, 2)).toEqual(['sh', '-c']);
    expect(cmd[2]).toMatch(/exec node "\$@" services\/\$\{JETSAGA_SERVICE\}\/dist\/main\.js$/);
    const bin = await mkdtemp(join(tmpdir(), 'jetsaga-cmd-'));
    await writeFile(join(bin, 'node'), '#!/bin/sh\necho node "$@"\n', { mode: 0o755 });
    const started = async (env: Record<string, string>) =>
      (await run('/bin/sh', ['-c', cmd[2]!], { env: { PATH: `${bin}:/usr/bin:/bin`, JETSAGA_SERVICE: 'order', ...env } })).stdout.trim();
    expect(await started({})).toBe('node services/order/dist/main.js');
    const preloaded = 'node --import ./packages/platform/dist/register.js services/order/dist/main.js';
    expect(await started({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(preloaded);
    expect(await started({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(preloaded);
    const objects = await helmTemplate(helm, join(charts, 'order'));
    const pod = podSpec(objects.find((object) => object.kind === 'Deployment')!);
    expect(pod.securityContext).toMatchObject({ runAsUser: 1000, runAsGroup: 1000 });
    expect(pod.containers[0]!.image).toBe('jetsaga:0.1.0');
  });
});
