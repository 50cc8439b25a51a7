import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { databaseRolesManifest, databaseRolesSql, REPO_ROOT } from '@jetsaga/devstack';
import { ALL_CHARTS, SERVICE_CHARTS } from '@jetsaga/k8s-testbed';
import { describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { byKind, find, helmLint, helmTemplate, podSpec, spec } from './render.js';

const helm = inject('helmBin');

/** The rule groups of every rule file under observability/ (PrometheusRule objects or plain rule files). */
async function ruleGroupsInRepo(): Promise<unknown[]> {
  const dir = join(REPO_ROOT, 'observability');
  const files = existsSync(dir)
    ? (await readdir(dir, { recursive: true })).filter((file) => /\.ya?ml$/.test(file) && !/(^|\/)tests?\/|\.test\.ya?ml$/.test(file))
    : [];
  const groups = [];
  for (const file of files.sort((a, b) => basename(a).localeCompare(basename(b)))) {
    const doc = parse(await readFile(join(dir, file), 'utf8')) as { kind?: string; spec?: { groups?: unknown }; groups?: unknown } | null;
    const found = doc?.kind === 'PrometheusRule' ? doc.spec?.groups : doc?.groups;
    if (found) groups.push(found);
  }
  return groups;
}
const charts = inject('chartsDir');
const chart = (name: string) => join(charts, name);
const PROFILES = { default: [], production: ['values-production.yaml'], observability: ['values-observability.yaml'] } as const;
/** What `npm start` loads before each service (packages/devstack/src/system.ts): the OpenTelemetry SDK. */
const PRELOAD = ['--import', './packages/platform/dist/register.js'];
const PORTS: Record<string, number> = {
  gateway: 8080,
  order: 8081,
  inventory: 8082,
  payment: 8083,
  sales: 8084,
  support: 8087,
  'event-store': 8085,
  shipping: 8086,
  notification: 8088,
  audit: 8089,
  operator: 8090,
};

/** Every EventConsumer k8s/topology declares (the services' consumers and their redrive consumers). */
async function topologyConsumerNames(): Promise<string[]> {
  const names: string[] = [];
  for (const file of ['consumers.yaml', 'redrive.yaml']) {
    const text = await readFile(join(REPO_ROOT, 'k8s', 'topology', file), 'utf8');
    names.push(...[...text.matchAll(/^kind: EventConsumer\nmetadata:\n {2}name: (\S+)$/gm)].map((match) => match[1]!));
  }
  return names.sort();
}

describe('helm lint --strict', () => {
  it.each(ALL_CHARTS.map((name) => [name]))('%s passes with its default values', async (name) => {
    await expect(helmLint(helm, chart(name))).resolves.toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it.each(Object.entries(PROFILES).filter(([name]) => name !== 'default'))('jetsaga passes with the %s values', async (_, values) => {
    await expect(helmLint(helm, chart('jetsaga'), [...values])).resolves.toMatch(/0 chart\(s\) failed/);
  });

  it('rejects values the schemas forbid (an even NATS cluster, a port out of range, an unknown key)', async () => {
    for (const set of [
      'nats.replicas=2',
      'order.ports.http=0',
      'nats.syncIntervl=always',
      'gateway.securityContext.allowPrivilegeEscalation=true',
    ]) {
      await expect(helmTemplate(helm, chart('jetsaga'), { set: [set] }), set).rejects.toThrow(/schema|values don't meet/i);
    }
  });

  it('every service chart shares one values schema (scripts/k8s-tools/service-chart.schema.json)', async () => {
    const shared = JSON.parse(await readFile(join(REPO_ROOT, 'scripts/k8s-tools/service-chart.schema.json'), 'utf8'));
    for (const name of SERVICE_CHARTS.filter((service) => service !== 'operator')) {
      expect(JSON.parse(await readFile(join(REPO_ROOT, 'charts', name, 'values.schema.json'), 'utf8')), name).toEqual(shared);
    }
    const operator = JSON.parse(await readFile(join(REPO_ROOT, 'charts/operator/values.schema.json'), 'utf8'));
    // The operator's own values: its Role, its Lease and its credential for the event store's API.
    const { leaseName, cleanupOnUninstall, crdUpgrade, apiToken, ...common } = operator.properties;
    expect(cleanupOnUninstall).toMatchObject({ type: 'object' });
    expect(crdUpgrade).toMatchObject({ type: 'object' });
    expect(apiToken).toMatchObject({ type: 'object' });
    expect(leaseName).toMatchObject({ type: 'string' });
    expect({ ...operator, title: shared.title, properties: { ...common, rbac: shared.properties.rbac } }).toEqual(shared);
  });
});

describe.each(Object.entries(PROFILES))('the umbrella chart with the %s values', (profile, values) => {
  const rendered = helmTemplate(helm, chart('jetsaga'), { values: [...values], namespace: 'shop' });

  it('probes every container of every workload: a readiness and a liveness probe', async () => {
    const workloads = [...byKind(await rendered, 'Deployment'), ...byKind(await rendered, 'StatefulSet')];
    const unprobed = workloads.flatMap((workload) =>
      podSpec(workload)
        .containers.filter((container) => !container.readinessProbe || !container.livenessProbe)
        .map((container) => `${workload.kind} ${workload.metadata.name}/${container.name}`),
    );
    expect(unprobed).toEqual([]);
  });

  it('runs every workload under the restricted Pod Security profile with requests and a memory limit', async () => {
    const workloads = [...byKind(await rendered, 'Deployment'), ...byKind(await rendered, 'StatefulSet')];
    expect(workloads.length).toBeGreaterThanOrEqual(profile === 'production' ? 8 : 9);
    for (const workload of workloads) {
      const pod = podSpec(workload);
      const where = `${workload.kind} ${workload.metadata.name}`;
      expect(pod.securityContext, where).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const container of pod.containers) {
        expect(container.securityContext, where).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.resources?.requests?.cpu, where).toBeDefined();
        expect(container.resources?.limits?.memory, where).toBeDefined();
      }
    }
  });

  it('gives each service named http and metrics ports, /healthz and /readyz probes, and a Service with both ports', async () => {
    const objects = await rendered;
    for (const name of SERVICE_CHARTS) {
      const container = podSpec(find(objects, 'Deployment', `jetsaga-${name}`)).containers[0]!;
      expect(container.ports, name).toEqual([
        { name: 'http', containerPort: PORTS[name], protocol: 'TCP' },
        { name: 'metrics', containerPort: 9464, protocol: 'TCP' },
      ]);
      expect(container.livenessProbe?.httpGet, name).toEqual({ path: '/healthz', port: 'http' });
      expect(container.readinessProbe?.httpGet, name).toEqual({ path: '/readyz', port: 'http' });
      const ports = spec<{ ports: { name: string }[] }>(find(objects, 'Service', `jetsaga-${name}`)).ports.map((port) => port.name);
      expect(ports, name).toEqual(['http', 'metrics']);
    }
  });

  it('starts the OpenTelemetry SDK as npm start does (the preload) exactly when an OTLP endpoint is set', async () => {
    const objects = await rendered;
    for (const name of SERVICE_CHARTS) {
      const container = podSpec(find(objects, 'Deployment', `jetsaga-${name}`)).containers[0]!;
      const endpoint = container.env?.find((variable) => variable.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value;
      expect(container.command, name).toEqual(
        endpoint ? ['node', ...PRELOAD, `services/${name}/dist/main.js`] : ['node', `services/${name}/dist/main.js`],
      );
      if (profile === 'default') expect(endpoint, name).toBeUndefined();
      if (profile === 'observability') expect(endpoint, name).toBe('http://jetsaga-tempo:4318');
    }
  });

  it('runs NATS as a three-server JetStream cluster with file storage and sync_interval always', async () => {
    const objects = await rendered;
    const nats = find(objects, 'StatefulSet', 'jetsaga-nats');
    expect(spec(nats).replicas).toBe(3);
    expect(spec<{ volumeClaimTemplates: unknown[] }>(nats).volumeClaimTemplates).toHaveLength(1);
    const conf = (find(objects, 'ConfigMap', 'jetsaga-nats') as unknown as { data: Record<string, string> }).data['nats.conf']!;
    expect(conf).toMatch(/jetstream \{[^}]*store_dir: \/data\/jetstream[^}]*sync_interval: always/s);
    const routes = conf.match(/nats:\/\/jetsaga-nats-\d\.jetsaga-nats-headless\.shop\.svc\.cluster\.local:6222/g);
    expect(routes).toHaveLength(3);
  });

  it('declares the topology as operator resources with R3 streams', async () => {
    const objects = await rendered;
    const streams = byKind(objects, 'EventStream');
    expect(streams.map((stream) => spec<{ name: string }>(stream).name).sort()).toEqual(['ADVISORIES', 'DEADLINES', 'DLQ', 'EVENTS']);
    for (const stream of streams) expect(spec(stream).replicas).toBe(3);
    expect(
      byKind(objects, 'EventConsumer')
        .map((consumer) => consumer.metadata.name)
        .sort(),
    ).toEqual(await topologyConsumerNames());
  });

  it('lets each service reach only what it needs', async () => {
    const objects = await rendered;
    const policy = (name: string) =>
      spec<{
        ingress: { from?: { podSelector: { matchLabels: Record<string, string> } }[] }[];
        egress: { to?: { podSelector?: { matchLabels: Record<string, string> } }[] }[];
      }>(find(objects, 'NetworkPolicy', `jetsaga-${name}`));
    const names = (peers: { podSelector?: { matchLabels: Record<string, string> } }[] | undefined) =>
      (peers ?? []).map((peer) => peer.podSelector?.matchLabels['app.kubernetes.io/name']).filter(Boolean);
    expect(names(policy('inventory').ingress[0]!.from)).toEqual(['gateway', 'order']);
    expect(names(policy('sales').ingress[0]!.from)).toEqual(['gateway']);
    expect(policy('gateway').ingress[0]!.from).toBeUndefined();
    expect(policy('order').egress.flatMap((rule) => names(rule.to))).toEqual(expect.arrayContaining(['nats', 'inventory', 'payment']));
    expect(policy('order').egress.flatMap((rule) => names(rule.to))).not.toContain('sales');
    // Only the gateway takes traffic from anyone: every other ingress rule names its peers.
    for (const name of SERVICE_CHARTS.filter((service) => service !== 'gateway')) {
      for (const rule of policy(name).ingress) expect(rule.from?.length, `${name} ingress ${JSON.stringify(rule)}`).toBeGreaterThan(0);
    }
    expect(policy('operator').ingress).toHaveLength(1);
    expect(policy('gateway').egress.flatMap((rule) => names(rule.to))).not.toContain('postgres');
    expect(policy('gateway').egress.flatMap((rule) => names(rule.to))).toEqual(expect.arrayContaining(['notification', 'audit']));
    // notification: the API from the gateway, the alert webhook from Alertmanager (production: the cluster's, in its
    // namespace); out to the release's Mailpit (production: the provider's submission port).
    const mailpit = policy('notification').egress.find((rule) => names(rule.to).includes('mailpit'));
    if (profile === 'production') {
      expect(names(policy('notification').ingress[0]!.from)).toEqual(['gateway']);
      expect(mailpit).toBeUndefined();
    } else {
      expect(names(policy('notification').ingress[0]!.from)).toEqual(['gateway', 'alertmanager']);
      expect(mailpit?.to?.[0]?.podSelector?.matchLabels['app.kubernetes.io/instance']).toBe('jetsaga');
      expect((mailpit as { ports?: { port: number }[] } | undefined)?.ports?.map((port) => port.port)).toEqual([1025, 8025]);
    }
    // audit reads NATS and writes Postgres: it calls no other service, and only the gateway calls it.
    expect(names(policy('audit').ingress[0]!.from)).toEqual(['gateway']);
    // (Production's Postgres and trace collector are ipBlock and namespace peers, not pods of the release.)
    const auditPeers = profile === 'production' ? ['nats'] : ['nats', 'postgres', ...(profile === 'observability' ? ['tempo'] : [])];
    expect(policy('audit').egress.flatMap((rule) => names(rule.to))).toEqual(auditPeers);
    if (profile !== 'production') expect(names(policy('mailpit').ingress[0]!.from)).toEqual(['notification']);
  });

  it('gives only the operator an API token, with a namespaced Role and no wildcard', async () => {
    const objects = await rendered;
    // Prometheus (observability profile) reads pods for service discovery; the operator reads its resources.
    const needsToken = new Set(['jetsaga-operator', 'jetsaga-prometheus']);
    for (const account of byKind(objects, 'ServiceAccount')) {
      const automount = (account as unknown as { automountServiceAccountToken?: boolean }).automountServiceAccountToken;
      if (needsToken.has(account.metadata.name)) expect(automount, account.metadata.name).not.toBe(false);
      else expect(automount, account.metadata.name).toBe(false);
    }
    for (const workload of [...byKind(objects, 'Deployment'), ...byKind(objects, 'StatefulSet')]) {
      const pod = podSpec(workload);
      if (!needsToken.has(pod.serviceAccountName ?? '')) expect(pod.automountServiceAccountToken, workload.metadata.name).toBe(false);
    }
    // Cluster-wide only the CRD upgrade hook's (ADR 0060), deleted once it succeeded: update of the chart's CRDs alone.
    const clusterRoles = byKind(objects, 'ClusterRole') as unknown as Array<{
      metadata: { name: string; annotations: Record<string, string> };
      rules: { resources: string[]; verbs: string[]; resourceNames?: string[] }[];
    }>;
    expect(clusterRoles.map((clusterRole) => clusterRole.metadata.name)).toEqual(['shop-jetsaga-operator-crds']);
    expect(clusterRoles[0]?.metadata.annotations).toMatchObject({
      'helm.sh/hook': 'pre-install,pre-upgrade',
      'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
    });
    for (const rule of clusterRoles[0]?.rules ?? []) {
      expect(rule.resources).toEqual(['customresourcedefinitions']);
      if (rule.verbs.includes('update')) expect(rule.resourceNames?.every((name) => name.endsWith('.jetsaga.dev'))).toBe(true);
      expect(rule.verbs).not.toContain('delete');
    }
    const role = find(objects, 'Role', 'jetsaga-operator') as unknown as {
      rules: { resources: string[]; verbs: string[]; resourceNames?: string[] }[];
    };
    for (const rule of role.rules) {
      expect(rule.verbs).not.toContain('*');
      expect(rule.resources).not.toContain('*');
      expect(rule.verbs).not.toContain('delete');
    }
    expect(role.rules.find((rule) => rule.resources.includes('leases') && rule.verbs.includes('update'))?.resourceNames).toEqual([
      'jetsaga-operator',
    ]);
  });

  if (profile === 'production') {
    it('production: two replicas or more behind a PDB, HPAs, ServiceMonitors on the metrics port, an external Postgres', async () => {
      const objects = await rendered;
      for (const name of SERVICE_CHARTS) {
        expect(spec(find(objects, 'ServiceMonitor', `jetsaga-${name}`)), name).toMatchObject({
          endpoints: [{ port: 'metrics', path: '/metrics' }],
        });
        if (name === 'audit') continue;
        expect(spec(find(objects, 'Deployment', `jetsaga-${name}`)).replicas ?? 2, name).toBeGreaterThanOrEqual(2);
        expect(spec(find(objects, 'PodDisruptionBudget', `jetsaga-${name}`)), name).toMatchObject({ minAvailable: 1 });
      }
      // The audit trail has one writer (charts/audit/values.yaml): one replica, no HPA, a PDB that lets a node drain.
      expect(spec(find(objects, 'Deployment', 'jetsaga-audit')).replicas).toBe(1);
      expect(spec(find(objects, 'PodDisruptionBudget', 'jetsaga-audit'))).toMatchObject({ maxUnavailable: 1 });
      expect(spec(find(objects, 'PodDisruptionBudget', 'jetsaga-audit')).minAvailable).toBeUndefined();
      for (const hpa of byKind(objects, 'HorizontalPodAutoscaler')) expect(spec(hpa).minReplicas).toBeGreaterThanOrEqual(2);
      expect(byKind(objects, 'HorizontalPodAutoscaler').map((hpa) => hpa.metadata.name)).not.toContain('jetsaga-audit');
      expect(byKind(objects, 'HorizontalPodAutoscaler')).toHaveLength(
        SERVICE_CHARTS.filter((name) => !['operator', 'audit'].includes(name)).length,
      );
      // Email through the provider, not an in-cluster Mailpit: STARTTLS, the account from a Secret, no lookup API.
      expect(objects.some((object) => object.metadata.name === 'jetsaga-mailpit')).toBe(false);
      const mail = podSpec(find(objects, 'Deployment', 'jetsaga-notification')).containers[0]!.env ?? [];
      expect(mail.find((variable) => variable.name === 'SMTP_STARTTLS')?.value).toBe('true');
      expect(mail.find((variable) => variable.name === 'SMTP_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
        name: 'jetsaga-smtp',
        key: 'password',
      });
      expect(mail.some((variable) => variable.name === 'MAIL_LOOKUP_URL')).toBe(false);
      expect(objects.some((object) => object.metadata.name === 'jetsaga-postgres')).toBe(false);
      // Every PrometheusRule in observability/ ships as one, with the release's labels, less the alerts the release
      // rules replace (JetsagaTargetDown names this release's jobs there); the release rules come last.
      type Group = { name: string; rules: { alert?: string }[] };
      const rules = ((await ruleGroupsInRepo()) as Group[][]).map((groups) =>
        groups
          .map((group) => ({ ...group, rules: group.rules.filter((rule) => rule.alert !== 'JetsagaTargetDown') }))
          .filter((group) => group.rules.length > 0),
      );
      const shipped = byKind(objects, 'PrometheusRule');
      expect(shipped.map((rule) => rule.metadata.name).at(-1)).toBe('jetsaga-release');
      expect(shipped.slice(0, -1).map((rule) => spec<{ groups: unknown }>(rule).groups)).toEqual(rules);
      const env = podSpec(find(objects, 'Deployment', 'jetsaga-order')).containers[0]!.env ?? [];
      expect(env.find((variable) => variable.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({
        name: 'jetsaga-order-database',
        key: 'url',
      });
    });
  } else {
    it('local: Postgres in the release, each service its own role and URL in a Secret of its own, no ServiceMonitor', async () => {
      const objects = await rendered;
      find(objects, 'StatefulSet', 'jetsaga-postgres');
      // The superuser's URL stays for people and backups; no service reads it.
      const admin = find(objects, 'Secret', 'jetsaga-database') as unknown as { stringData: { url: string } };
      expect(admin.stringData.url).toBe('postgres://jetsaga:jetsaga-local@jetsaga-postgres:5432/jetsaga');
      const roles = find(objects, 'Secret', 'jetsaga-postgres-roles') as unknown as { stringData: Record<string, string> };
      const { services, monitoring } = databaseRolesManifest();
      expect(Object.keys(roles.stringData).sort()).toEqual([...services.map((entry) => entry.variable), monitoring.variable].sort());
      const passwords = new Set<string>();
      for (const { service, role, variable } of services) {
        const password = roles.stringData[variable]!;
        expect(password, variable).toMatch(/^[A-Za-z0-9]{32}$/);
        passwords.add(password);
        const secret = find(objects, 'Secret', `jetsaga-${service}-database`) as unknown as { stringData: { url: string } };
        expect(secret.stringData.url, service).toBe(`postgres://${role}:${password}@jetsaga-postgres:5432/jetsaga`);
        const env = podSpec(find(objects, 'Deployment', `jetsaga-${service}`)).containers[0]!.env ?? [];
        expect(env.find((variable) => variable.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef, service).toEqual({
          name: `jetsaga-${service}-database`,
          key: 'url',
        });
      }
      expect(passwords.size).toBe(services.length);
      // The roles container applies the script npm start and the tests apply (packages/devstack/src/database-roles.ts).
      const script = find(objects, 'ConfigMap', 'jetsaga-postgres-roles') as unknown as { data: Record<string, string> };
      expect(script.data['roles.sql']).toBe(databaseRolesSql());
      const pod = podSpec(find(objects, 'StatefulSet', 'jetsaga-postgres'));
      const container = pod.containers.find((candidate) => candidate.name === 'roles')!;
      expect(container.image).toBe(podSpec(find(objects, 'Deployment', 'jetsaga-order')).containers[0]!.image);
      expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      expect(pod.volumes?.find((volume) => volume.name === 'role-passwords')?.secret?.secretName).toBe('jetsaga-postgres-roles');
      expect(byKind(objects, 'ServiceMonitor')).toEqual([]);
      const gatewayEnv = podSpec(find(objects, 'Deployment', 'jetsaga-gateway')).containers[0]!.env ?? [];
      expect(gatewayEnv.find((variable) => variable.name === 'ORDER_URL')?.value).toBe('http://jetsaga-order:8081');
      expect(gatewayEnv.find((variable) => variable.name === 'NOTIFICATION_URL')?.value).toBe('http://jetsaga-notification:8088');
      expect(gatewayEnv.find((variable) => variable.name === 'AUDIT_URL')?.value).toBe('http://jetsaga-audit:8089');
      expect(gatewayEnv.some((variable) => variable.name === 'DATABASE_URL')).toBe(false);
    });

    it("local: notification sends to the release's Mailpit (SMTP and its search API), restricted like every pod", async () => {
      const objects = await rendered;
      const mailpit = podSpec(find(objects, 'Deployment', 'jetsaga-mailpit')).containers[0]!;
      expect(mailpit.ports?.map((port) => [port.name, port.containerPort])).toEqual([
        ['smtp', 1025],
        ['http', 8025],
      ]);
      expect(
        spec<{ ports: { name: string; port: number }[] }>(find(objects, 'Service', 'jetsaga-mailpit')).ports.map((port) => port.port),
      ).toEqual([1025, 8025]);
      const env = podSpec(find(objects, 'Deployment', 'jetsaga-notification')).containers[0]!.env ?? [];
      const value = (name: string) => env.find((variable) => variable.name === name)?.value;
      expect([value('SMTP_HOST'), value('SMTP_PORT'), value('MAIL_LOOKUP_URL')]).toEqual([
        'jetsaga-mailpit',
        '1025',
        'http://jetsaga-mailpit:8025',
      ]);
      // No SMTP account for Mailpit: the variables are left out rather than pointing at a Secret that does not exist.
      expect(env.some((variable) => variable.name === 'SMTP_USER' || variable.name === 'SMTP_PASSWORD')).toBe(false);
    });

    it('local: the audit signing key is a generated Ed25519 key in a Secret the audit pod reads, kept on uninstall', async () => {
      const objects = await rendered;
      const secret = find(objects, 'Secret', 'jetsaga-audit-signing-key') as unknown as {
        metadata: { annotations: Record<string, string> };
        data: Record<string, string>;
      };
      expect(secret.metadata.annotations['helm.sh/resource-policy']).toBe('keep');
      const { createPrivateKey } = await import('node:crypto');
      expect(createPrivateKey(Buffer.from(secret.data['signing-key']!, 'base64').toString()).asymmetricKeyType).toBe('ed25519');
      const env = podSpec(find(objects, 'Deployment', 'jetsaga-audit')).containers[0]!.env ?? [];
      expect(env.find((variable) => variable.name === 'AUDIT_SIGNING_KEY')?.valueFrom?.secretKeyRef).toEqual({
        name: 'jetsaga-audit-signing-key',
        key: 'signing-key',
      });
      expect(spec(find(objects, 'Deployment', 'jetsaga-audit')).replicas).toBe(1);
    });
  }

  if (profile === 'observability') {
    it('observability: Tempo, Prometheus and Grafana, traces from every service, exemplars linked to Tempo', async () => {
      const objects = await rendered;
      for (const name of ['tempo', 'prometheus', 'grafana']) find(objects, 'Deployment', `jetsaga-${name}`);
      for (const name of SERVICE_CHARTS) {
        const env = podSpec(find(objects, 'Deployment', `jetsaga-${name}`)).containers[0]!.env ?? [];
        expect(env.find((variable) => variable.name === 'OTEL_EXPORTER_OTLP_ENDPOINT')?.value, name).toBe('http://jetsaga-tempo:4318');
      }
      const datasources = (find(objects, 'ConfigMap', 'jetsaga-grafana-datasources') as unknown as { data: Record<string, string> }).data;
      expect(Object.values(datasources).join('\n')).toMatch(
        /exemplarTraceIdDestinations:\s+- (\{ )?name: trace_id,?\s+datasourceUid: tempo/,
      );
      expect(Object.values(datasources).join('\n')).toMatch(/url: http:\/\/jetsaga-tempo:3200/);
      expect(find(objects, 'ConfigMap', 'jetsaga-grafana-dashboards').metadata.labels?.grafana_dashboard).toBe('1');
    });

    it("observability: Prometheus alerts through Alertmanager, which routes by severity to notification's webhook with its token", async () => {
      const objects = await rendered;
      const data = (name: string) => (find(objects, 'ConfigMap', name) as unknown as { data: Record<string, string> }).data;
      const prometheus = parse(data('jetsaga-prometheus')['prometheus.yml']!) as {
        alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
      };
      expect(prometheus.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual(['jetsaga-alertmanager:9093']);
      const alertmanager = parse(data('jetsaga-alertmanager')['alertmanager.yml']!) as {
        route: { receiver: string; routes: { matchers: string[]; receiver: string }[] };
        receivers: { name: string; webhook_configs: { url: string; http_config: { authorization: { credentials_file: string } } }[] }[];
      };
      expect(alertmanager.route.routes.map((route) => [route.matchers, route.receiver])).toEqual([
        [['severity="critical"'], 'oncall-critical'],
        [['severity="warning"'], 'oncall-warning'],
      ]);
      const pod = podSpec(find(objects, 'Deployment', 'jetsaga-alertmanager')) as ReturnType<typeof podSpec> & {
        volumes: { name: string; secret?: { secretName: string } }[];
      };
      const mounts = (pod.containers[0] as unknown as { volumeMounts: { name: string; mountPath: string }[] }).volumeMounts;
      for (const receiver of alertmanager.receivers) {
        const [webhook] = receiver.webhook_configs;
        expect(webhook!.url, receiver.name).toBe('http://jetsaga-notification:8088/hooks/alertmanager');
        const file = webhook!.http_config.authorization.credentials_file;
        const mount = mounts.find((candidate) => file.startsWith(`${candidate.mountPath}/`))!;
        expect(pod.volumes.find((volume) => volume.name === mount.name)?.secret?.secretName, receiver.name).toBe('jetsaga-alert-webhook');
      }
      // The token notification checks is the one Alertmanager sends (same Secret, same key).
      const env = podSpec(find(objects, 'Deployment', 'jetsaga-notification')).containers[0]!.env ?? [];
      expect(env.find((variable) => variable.name === 'ALERT_WEBHOOK_TOKEN')?.valueFrom?.secretKeyRef).toMatchObject({
        name: 'jetsaga-alert-webhook',
        key: 'token',
      });
      const token = (find(objects, 'Secret', 'jetsaga-alert-webhook') as unknown as { data: { token: string } }).data.token;
      expect(Buffer.from(token, 'base64').toString().length).toBeGreaterThanOrEqual(16);
    });
  }
});

describe('a service chart on its own', () => {
  it('preloads the OpenTelemetry SDK after the node options for an endpoint given as a value or as env', async () => {
    const command = async (set: string[]) =>
      podSpec(find(await helmTemplate(helm, chart('order'), { release: 'solo', set }), 'Deployment', 'solo-order')).containers[0]!.command;
    const script = 'services/order/dist/main.js';
    expect(await command([])).toEqual(['node', script]);
    expect(await command(['nodeArgs={--watch}'])).toEqual(['node', '--watch', script]);
    expect(await command(['otlp.endpoint=http://collector:4318', 'nodeArgs={--watch}'])).toEqual(['node', '--watch', ...PRELOAD, script]);
    expect(await command(['global.otlp.endpoint=http://collector:4318'])).toEqual(['node', ...PRELOAD, script]);
    expect(await command(['env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://collector:4318/v1/traces'])).toEqual(['node', ...PRELOAD, script]);
  });

  it("the operator's Lease is named per release, in its env and in the Role that lets it update only that Lease", async () => {
    for (const [release, set, lease] of [
      ['shop', [], 'shop-operator'],
      ['shop', ['leaseName=shop-leader'], 'shop-leader'],
    ] as const) {
      const objects = await helmTemplate(helm, chart('operator'), { release, set: [...set] });
      const env = podSpec(find(objects, 'Deployment', 'shop-operator')).containers[0]!.env ?? [];
      expect(env.find((variable) => variable.name === 'LEASE_NAME')?.value).toBe(lease);
      const role = find(objects, 'Role', 'shop-operator') as unknown as { rules: { resources: string[]; resourceNames?: string[] }[] };
      expect(role.rules.find((rule) => rule.resources.includes('leases') && rule.resourceNames)?.resourceNames).toEqual([lease]);
      // The renew deadline is set and shorter than the lease.
      const seconds = (name: string) => Number(env.find((variable) => variable.name === name)?.value);
      expect(seconds('LEASE_RENEW_DEADLINE_SECONDS')).toBeLessThan(seconds('LEASE_DURATION_SECONDS'));
    }
  });

  it('renders a complete service with the NetworkPolicy and ServiceMonitor switched on by values', async () => {
    const objects = await helmTemplate(helm, chart('payment'), {
      release: 'solo',
      set: ['global.networkPolicy.enabled=true', 'serviceMonitor.enabled=true', 'autoscaling.enabled=true'],
    });
    expect(objects.map((object) => object.kind).sort()).toEqual([
      'Deployment',
      'HorizontalPodAutoscaler',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
      'ServiceMonitor',
    ]);
    const deployment = find(objects, 'Deployment', 'solo-payment');
    expect(spec(deployment).replicas).toBeUndefined();
    const env = podSpec(deployment).containers[0]!.env ?? [];
    expect(env.find((variable) => variable.name === 'NATS_URL')?.value).toBe('nats://solo-nats:4222');
  });
});
