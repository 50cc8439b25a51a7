import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensurePrometheus, REPO_ROOT } from '@jetsaga/devstack';
import type { KubeObject } from '@jetsaga/k8s-testbed';
import { SERVICE_CHARTS } from '@jetsaga/k8s-testbed';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { byKind, find, helmTemplate, podSpec, spec } from './render.js';

/**
 * The production values rendered as a platform team would install them (release `acme` in namespace `shop`, so
 * nothing can pass by matching the default names): traces reach the collector's namespace, dashboards ship for the
 * cluster's Grafana, alert rules name this release's jobs and guard them with absent(), and the operator, NATS and
 * Postgres are scraped and alerted. The release rules are then run through promtool's unit tests.
 */
const helm = inject('helmBin');
const chart = join(inject('chartsDir'), 'jetsaga');
const run = promisify(execFile);
type Rule = { alert: string; expr: string; for?: string; labels: { severity: string } };
type Peer = { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: { matchLabels: Record<string, string> } };
type Policy = {
  ingress: { ports: { port: string | number }[]; from?: Peer[] }[];
  egress: { ports?: { port: number | string }[]; to?: Peer[] }[];
};

describe('the production values, rendered', () => {
  let objects: KubeObject[];
  let work: string;
  beforeAll(async () => {
    objects = await helmTemplate(helm, chart, { release: 'acme', namespace: 'shop', values: ['values-production.yaml'] });
    work = await mkdtemp(join(tmpdir(), 'jetsaga-rules-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  const releaseRules = () =>
    spec<{ groups: { name: string; rules: Rule[] }[] }>(find(objects, 'PrometheusRule', 'acme-release')).groups.flatMap(
      (group) => group.rules,
    );
  const rule = (alert: string) => {
    const found = releaseRules().find((candidate) => candidate.alert === alert);
    if (!found) throw new Error(`no ${alert} in the release rules`);
    return found;
  };

  it("lets every service's traces out to the collector's namespace, and nowhere else on the OTLP ports", async () => {
    for (const name of SERVICE_CHARTS) {
      const deployment = find(objects, 'Deployment', `acme-${name}`);
      const env = podSpec(deployment).containers[0]!.env ?? [];
      expect(env.find((variable) => variable.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value, name).toBe(
        'http://otel-collector.observability:4318',
      );
      const otlp = spec<Policy>(find(objects, 'NetworkPolicy', `acme-${name}`)).egress.filter((egress) =>
        egress.ports?.some((port) => port.port === 4318),
      );
      expect(otlp, name).toEqual([
        {
          ports: [
            { port: 4317, protocol: 'TCP' },
            { port: 4318, protocol: 'TCP' },
          ],
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } }],
        },
      ]);
    }
  });

  it("ships the dashboards for the cluster's Grafana without the local observability profile", async () => {
    expect(objects.some((object) => object.kind === 'Deployment' && object.metadata.name === 'acme-grafana')).toBe(false);
    const dashboards = find(objects, 'ConfigMap', 'acme-grafana-dashboards') as unknown as {
      metadata: { labels: Record<string, string> };
      data: Record<string, string>;
    };
    expect(dashboards.metadata.labels.grafana_dashboard).toBe('1');
    const files = (await readdir(join(REPO_ROOT, 'observability/grafana/dashboards'))).filter((file) => file.endsWith('.json'));
    expect(Object.keys(dashboards.data).sort()).toEqual(files.sort());
    for (const [file, json] of Object.entries(dashboards.data)) expect(JSON.parse(json).uid, file).toMatch(/^jetsaga-/);
  });

  it('scrapes the services, the operator, NATS (its exporter) and Postgres (postgres_exporter as its monitoring role)', async () => {
    const monitors = byKind(objects, 'ServiceMonitor').map((monitor) => monitor.metadata.name);
    expect(monitors.sort()).toEqual([...SERVICE_CHARTS.map((name) => `acme-${name}`), 'acme-nats', 'acme-postgres-exporter'].sort());
    for (const name of ['acme-nats', 'acme-postgres-exporter'])
      expect(find(objects, 'ServiceMonitor', name).metadata.labels?.release, name).toBe('prometheus');
    const nats = podSpec(find(objects, 'StatefulSet', 'acme-nats'));
    const exporter = nats.containers.find((container) => container.name === 'exporter')!;
    expect(exporter.ports).toEqual([{ name: 'metrics', containerPort: 7777 }]);
    expect(exporter.image).toMatch(/prometheus-nats-exporter/);
    const natsService = spec<{ ports: { name: string }[] }>(find(objects, 'Service', 'acme-nats'));
    expect(natsService.ports.map((port) => port.name)).toContain('metrics');
    const natsPolicy = spec<Policy>(find(objects, 'NetworkPolicy', 'acme-nats'));
    expect(natsPolicy.ingress.find((rule) => rule.ports.some((port) => port.port === 'metrics'))?.from?.[0]?.namespaceSelector).toEqual({
      matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' },
    });
    const pg = podSpec(find(objects, 'Deployment', 'acme-postgres-exporter')).containers[0]!;
    // Its own monitoring role (pg_monitor), not a service's.
    expect(pg.env?.find((variable) => variable.name === 'DATA_SOURCE_NAME')?.valueFrom?.secretKeyRef).toEqual({
      name: 'jetsaga-postgres-monitoring',
      key: 'url',
    });
  });

  it('protects EVENTS from deletes and purges and bounds it below the store limit, refusing publishes at the bound', async () => {
    const events = byKind(objects, 'EventStream').find((stream) => spec<{ name: string }>(stream).name === 'EVENTS')!;
    expect(spec(events)).toMatchObject({ denyDelete: true, denyPurge: true, maxBytes: 40 * 2 ** 30, discard: 'New', preventDelete: true });
    for (const stream of byKind(objects, 'EventStream').filter((other) => other !== events))
      expect(spec(stream).denyPurge, stream.metadata.name).toBeUndefined();
  });

  it('templates the alert rules on the release and namespace, with an absent() guard for every job', async () => {
    const jobs = [...SERVICE_CHARTS, 'nats', 'postgres-exporter'].map((name) => `acme-${name}`);
    expect(rule('JetsagaTargetDown').expr).toBe(
      `up{namespace="shop", job=~"${['gateway', 'order', 'inventory', 'payment', 'sales', 'support', 'shipping', 'notification', 'audit', 'event-store', 'operator', 'nats', 'postgres-exporter'].map((name) => `acme-${name}`).join('|')}"} == 0`,
    );
    const missing = rule('JetsagaTargetMissing').expr;
    for (const job of jobs) expect(missing).toContain(`absent(up{namespace="shop", job="${job}"})`);
    expect(rule('JetsagaAlertInputMissing').expr).toContain('absent(jetsaga_sagas_stuck{namespace="shop", job="acme-order"})');
    expect(rule('JetsagaAlertInputMissing').expr).toContain(
      'absent(jetsaga_complaints_escalation_overdue{namespace="shop", job="acme-support"})',
    );
    // The audit chain alert reads what the periodic verification sets; the email alert, notification's backlog gauge.
    expect(rule('JetsagaAlertInputMissing').expr).toContain('absent(jetsaga_audit_chain_ok{namespace="shop", job="acme-audit"})');
    expect(rule('JetsagaAlertInputMissing').expr).toContain(
      'absent(jetsaga_notifications_outcome_unknown{namespace="shop", job="acme-notification"})',
    );
    // Nothing in the release rules still names the default release.
    expect(JSON.stringify(releaseRules())).not.toMatch(/jetsaga-(order|gateway|operator|nats)/);
    for (const alert of [
      'JetsagaOperatorNoLeader',
      'JetsagaOperatorTwoLeaders',
      'JetsagaJetStreamStorageHigh',
      'JetsagaPostgresDown',
      'JetsagaPostgresConnectionsHigh',
    ])
      expect(rule(alert).labels.severity, alert).toMatch(/critical|warning/);
  });

  it('the release rules load in Prometheus and fire as intended (promtool unit tests)', async () => {
    const { promtool } = await ensurePrometheus();
    const rules = join(work, 'release.rules.yaml');
    await writeFile(rules, stringify(spec(find(objects, 'PrometheusRule', 'acme-release'))));
    await run(promtool, ['check', 'rules', rules]);
    // The unit tests below compare labels; promtool would compare annotations too, so the rules under test drop them.
    const bare = join(work, 'release.bare.yaml');
    const groups = spec<{ groups: { name: string; rules: Record<string, unknown>[] }[] }>(
      find(objects, 'PrometheusRule', 'acme-release'),
    ).groups;
    await writeFile(
      bare,
      stringify({ groups: groups.map((group) => ({ ...group, rules: group.rules.map(({ annotations: _, ...rest }) => rest) })) }),
    );
    const up = (job: string, value: string) => ({ series: `up{namespace="shop", job="acme-${job}", instance="${job}:1"}`, values: value });
    const healthy = [
      'gateway',
      'order',
      'inventory',
      'payment',
      'sales',
      'support',
      'shipping',
      'notification',
      'audit',
      'event-store',
      'operator',
      'postgres-exporter',
    ];
    const tests = {
      rule_files: [bare],
      evaluation_interval: '1m',
      tests: [
        {
          // NATS's ServiceMonitor selects nothing: no `up` series at all for acme-nats, only the guard can tell.
          interval: '1m',
          input_series: [
            ...healthy.map((job) => up(job, '1x20')),
            { series: 'jetsaga_operator_leader{namespace="shop", job="acme-operator", pod="a"}', values: '1x20' },
            { series: 'jetsaga_operator_leader{namespace="shop", job="acme-operator", pod="b"}', values: '0x5 1x15' },
            { series: 'pg_up{namespace="shop", job="acme-postgres-exporter"}', values: '1x5 0x15' },
          ],
          alert_rule_test: [
            {
              eval_time: '15m',
              alertname: 'JetsagaTargetMissing',
              exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'shop', job: 'acme-nats' } }],
            },
            { eval_time: '15m', alertname: 'JetsagaOperatorTwoLeaders', exp_alerts: [{ exp_labels: { severity: 'critical' } }] },
            { eval_time: '15m', alertname: 'JetsagaOperatorNoLeader', exp_alerts: [] },
            { eval_time: '15m', alertname: 'JetsagaPostgresDown', exp_alerts: [{ exp_labels: { severity: 'critical' } }] },
            { eval_time: '15m', alertname: 'JetsagaTargetDown', exp_alerts: [] },
          ],
        },
        {
          // The operator's pods are gone: no leader series, the `or vector(0)` makes that an alert too.
          interval: '1m',
          input_series: [up('operator', '0x10')],
          alert_rule_test: [
            { eval_time: '8m', alertname: 'JetsagaOperatorNoLeader', exp_alerts: [{ exp_labels: { severity: 'critical' } }] },
            {
              eval_time: '8m',
              alertname: 'JetsagaTargetDown',
              exp_alerts: [{ exp_labels: { severity: 'critical', namespace: 'shop', job: 'acme-operator', instance: 'operator:1' } }],
            },
          ],
        },
      ],
    };
    const file = join(work, 'release.test.yaml');
    await writeFile(file, stringify(tests));
    const { stdout } = await run(promtool, ['test', 'rules', file]).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`promtool test rules failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    });
    expect(stdout).toMatch(/SUCCESS/);
  });
});

describe('the values a real cluster needs', () => {
  const render = (set: string[], values: string[] = []) => helmTemplate(helm, chart, { release: 'acme', namespace: 'shop', values, set });
  const digest = `sha256:${'ab'.repeat(32)}`;

  it('pull secrets, priority class and image digest reach every pod of the release (services, NATS, Postgres)', async () => {
    const objects = await render([
      'global.imagePullSecrets[0].name=registry',
      'global.priorityClassName=jetsaga-critical',
      `global.image.digest=${digest}`,
    ]);
    const workloads = [...byKind(objects, 'Deployment'), ...byKind(objects, 'StatefulSet')];
    expect(workloads.length).toBeGreaterThanOrEqual(9);
    for (const workload of workloads) {
      const pod = podSpec(workload) as ReturnType<typeof podSpec> & { imagePullSecrets?: unknown; priorityClassName?: string };
      expect(pod.imagePullSecrets, workload.metadata.name).toEqual([{ name: 'registry' }]);
      expect(pod.priorityClassName, workload.metadata.name).toBe('jetsaga-critical');
    }
    for (const name of SERVICE_CHARTS)
      expect(podSpec(find(objects, 'Deployment', `acme-${name}`)).containers[0]!.image).toBe(`jetsaga@${digest}`);
    await expect(render(['global.image.digest=latest'])).rejects.toThrow(/schema|values don't meet/i);
  });

  it('places NATS servers on distinct nodes when asked to (required), only prefers it by default', async () => {
    type Affinity = { podAntiAffinity: Record<string, unknown> };
    const affinity = async (values: string[], set: string[] = []) =>
      (podSpec(find(await render(set, values), 'StatefulSet', 'acme-nats')) as unknown as { affinity: Affinity }).affinity.podAntiAffinity;
    expect(Object.keys(await affinity([]))).toEqual(['preferredDuringSchedulingIgnoredDuringExecution']);
    const production = await affinity(['values-production.yaml']);
    expect(production).toEqual({
      requiredDuringSchedulingIgnoredDuringExecution: [
        {
          topologyKey: 'kubernetes.io/hostname',
          labelSelector: { matchLabels: { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/instance': 'acme' } },
        },
      ],
    });
    const zones = await affinity([], ['nats.placement.required=true', 'nats.placement.topologyKey=topology.kubernetes.io/zone']);
    expect(JSON.stringify(zones)).toContain(
      '"requiredDuringSchedulingIgnoredDuringExecution":[{"topologyKey":"topology.kubernetes.io/zone"',
    );
  });

  it('publishes the gateway through an Ingress or an HTTPRoute, and refuses either without its hosts or parent', async () => {
    const objects = await render([
      'ingress.enabled=true',
      'ingress.className=nginx',
      'ingress.hosts[0].host=shop.example.com',
      'httpRoute.enabled=true',
      'httpRoute.parentRefs[0].name=public',
      'httpRoute.hostnames[0]=shop.example.com',
    ]);
    expect(spec(find(objects, 'Ingress', 'acme-gateway'))).toMatchObject({
      ingressClassName: 'nginx',
      rules: [
        {
          host: 'shop.example.com',
          http: { paths: [{ path: '/', backend: { service: { name: 'acme-gateway', port: { number: 8080 } } } }] },
        },
      ],
    });
    expect(spec(find(objects, 'HTTPRoute', 'acme-gateway'))).toMatchObject({
      parentRefs: [{ name: 'public' }],
      rules: [{ backendRefs: [{ name: 'acme-gateway', port: 8080 }] }],
    });
    expect(byKind(await render([]), 'Ingress')).toEqual([]);
    await expect(render(['ingress.enabled=true'])).rejects.toThrow(/ingress.hosts/);
    await expect(render(['httpRoute.enabled=true'])).rejects.toThrow(/parentRefs/);
  });

  it('ships a helm test hook that checks the gateway through its Service, restricted like every pod', async () => {
    const hook = find(await render([]), 'Pod', 'acme-test-gateway') as unknown as {
      metadata: { annotations: Record<string, string> };
      spec: { restartPolicy: string; containers: { command: string[]; env: { name: string; value: string }[] }[] };
    };
    expect(hook.metadata.annotations['helm.sh/hook']).toBe('test');
    expect(hook.spec.restartPolicy).toBe('Never');
    expect(hook.spec.containers[0]!.env).toContainEqual({ name: 'GATEWAY_URL', value: 'http://acme-gateway:8080' });
    expect(hook.spec.containers[0]!.command.at(-1)).toContain("check('/readyz')");
    // The gateway's readiness is its own (ADR 0055): the hook asks for NATS and every service by name as well.
    expect(hook.spec.containers[0]!.command.at(-1)).toContain(
      `for (const name of ${JSON.stringify(['nats', 'order', 'inventory', 'payment', 'sales', 'support', 'event-store', 'shipping', 'notification', 'audit'])}) await check('/readyz/' + name);`,
    );
  });

  it('refuses the in-chart Postgres with its local password outside the local profile, and escapes its URL', async () => {
    // The Secrets production needs besides the database's (tests/src/k8s/secrets.k8s.test.ts), named.
    // And the token issuer and the operator's credential (tests/src/k8s/auth.k8s.test.ts).
    const named = [
      'global.audit.existingSecret=audit',
      'global.gdpr.existingSecret=gdpr',
      'global.auth.issuer=https://id.example.com',
      'operator.apiToken.existingSecret=operator-api',
      'global.nats.auth.existingSecret=nats',
    ];
    await expect(render(['global.profile=production', ...named])).rejects.toThrow(/local default but global.profile is "production"/);
    await expect(render(['postgres.auth.password='])).rejects.toThrow(/password/);
    const objects = await render([
      'global.profile=production',
      'postgres.auth.password=p@ss:w/rd% x',
      'postgres.auth.database=shop/db 1',
      ...named,
    ]);
    // The superuser's URL (for people and backups; no service reads it), escaped.
    const admin = find(objects, 'Secret', 'acme-database') as unknown as { stringData: { url: string } };
    expect(admin.stringData.url).toBe('postgres://jetsaga:p%40ss%3Aw%2Frd%25%20x@acme-postgres:5432/shop%2Fdb%201');
    expect(decodeURIComponent(new URL(admin.stringData.url).password)).toBe('p@ss:w/rd% x');
    // Each service's URL is its own role's, escaped too, and no service is given the superuser's password.
    const secret = find(objects, 'Secret', 'acme-order-database') as unknown as { stringData: { url: string } };
    expect(secret.stringData.url).toMatch(/^postgres:\/\/jetsaga_order:[A-Za-z0-9]{32}@acme-postgres:5432\/shop%2Fdb%201$/);
    expect(decodeURIComponent(new URL(secret.stringData.url).pathname.slice(1))).toBe('shop/db 1');
    for (const deployment of byKind(objects, 'Deployment'))
      for (const variable of podSpec(deployment).containers.flatMap((container) => container.env ?? []))
        expect(variable.valueFrom?.secretKeyRef?.name ?? '', deployment.metadata.name).not.toMatch(/^acme-(database|postgres)$/);
    // Production proper has no in-chart Postgres at all, so no password to refuse.
    expect(byKind(await render([], ['values-production.yaml']), 'StatefulSet').map((set) => set.metadata.name)).toEqual(['acme-nats']);
  });

  it('gives every service a pre-stop delay and a drain timeout inside its grace period, and readiness probe settings from values', async () => {
    const objects = await render([
      'gateway.probes.readinessTimeoutSeconds=6',
      'order.preStopSleepSeconds=0',
      'audit.terminationGracePeriodSeconds=60',
    ]);
    for (const name of SERVICE_CHARTS) {
      const pod = podSpec(find(objects, 'Deployment', `acme-${name}`)) as ReturnType<typeof podSpec> & {
        terminationGracePeriodSeconds: number;
      };
      const container = pod.containers[0] as ReturnType<typeof podSpec>['containers'][number] & {
        lifecycle?: { preStop: { sleep: { seconds: number } } };
        readinessProbe: { timeoutSeconds: number };
      };
      if (name === 'order') expect(container.lifecycle, name).toBeUndefined();
      else {
        expect(container.lifecycle?.preStop.sleep.seconds, name).toBe(5);
        expect(pod.terminationGracePeriodSeconds, name).toBeGreaterThan(5);
      }
      expect(container.readinessProbe.timeoutSeconds, name).toBe(name === 'gateway' ? 6 : 3);
      // The drain (after the pre-stop sleep and a shutdown delay as long) ends 10 s before the grace period does,
      // leaving room for the rest of the stop.
      const drainMs = Number(container.env?.find((variable) => variable.name === 'DRAIN_TIMEOUT_MS')?.value);
      const delayMs = Number(container.env?.find((variable) => variable.name === 'SHUTDOWN_DELAY_MS')?.value);
      const preStop = container.lifecycle?.preStop.sleep.seconds ?? 0;
      expect(delayMs, name).toBe(preStop * 1000);
      expect(drainMs, name).toBe((pod.terminationGracePeriodSeconds - 2 * preStop - 10) * 1000);
      expect(drainMs, name).toBe(name === 'order' ? 20_000 : name === 'audit' ? 40_000 : 10_000);
    }
  });
});
