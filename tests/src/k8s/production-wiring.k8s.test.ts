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

  it('scrapes the services, the operator, NATS (its exporter) and Postgres (postgres_exporter on the same Secret)', async () => {
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
    expect(pg.env?.find((variable) => variable.name === 'DATA_SOURCE_NAME')?.valueFrom?.secretKeyRef).toEqual({
      name: 'jetsaga-database',
      key: 'url',
    });
  });

  it('templates the alert rules on the release and namespace, with an absent() guard for every job', async () => {
    const jobs = [...SERVICE_CHARTS, 'nats', 'postgres-exporter'].map((name) => `acme-${name}`);
    expect(rule('JetsagaTargetDown').expr).toBe(
      `up{namespace="shop", job=~"${['gateway', 'order', 'inventory', 'payment', 'sales', 'event-store', 'operator', 'nats', 'postgres-exporter'].map((name) => `acme-${name}`).join('|')}"} == 0`,
    );
    const missing = rule('JetsagaTargetMissing').expr;
    for (const job of jobs) expect(missing).toContain(`absent(up{namespace="shop", job="${job}"})`);
    expect(rule('JetsagaAlertInputMissing').expr).toContain('absent(jetsaga_sagas_stuck{namespace="shop", job="acme-order"})');
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
    const healthy = ['gateway', 'order', 'inventory', 'payment', 'sales', 'event-store', 'operator', 'postgres-exporter'];
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
