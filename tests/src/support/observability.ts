import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@jetsaga/devstack';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

export const OBSERVABILITY_DIR = join(REPO_ROOT, 'observability');
export const PROMETHEUS_RULE_FILE = join(OBSERVABILITY_DIR, 'prometheus', 'jetsaga.prometheusrule.yaml');
export const RULE_TESTS_DIR = join(OBSERVABILITY_DIR, 'prometheus', 'tests');
export const DASHBOARDS_DIR = join(OBSERVABILITY_DIR, 'grafana', 'dashboards');

export type AlertRule = {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
};
export type RuleGroup = { name: string; rules: AlertRule[] };

/** The rule groups of the PrometheusRule: what Prometheus and promtool load as a plain rule file. */
export function ruleGroups(): RuleGroup[] {
  const resource = parseYaml(readFileSync(PROMETHEUS_RULE_FILE, 'utf8')) as { kind: string; spec: { groups: RuleGroup[] } };
  if (resource.kind !== 'PrometheusRule') throw new Error(`${PROMETHEUS_RULE_FILE} is not a PrometheusRule`);
  return resource.spec.groups;
}

export function plainRuleFile(): string {
  return stringifyYaml({ groups: ruleGroups() });
}

export type DashboardExpression = { dashboard: string; panel: string; expr: string };

type Panel = { title: string; targets?: Array<{ expr?: string }>; panels?: Panel[] };

export function dashboards(): Array<{ file: string; json: { uid: string; title: string; panels: Panel[] } }> {
  return readdirSync(DASHBOARDS_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) }));
}

export function dashboardExpressions(): DashboardExpression[] {
  const out: DashboardExpression[] = [];
  const visit = (dashboard: string, panels: Panel[]) => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) if (target.expr) out.push({ dashboard, panel: panel.title, expr: target.expr });
      visit(dashboard, panel.panels ?? []);
    }
  };
  for (const { json } of dashboards()) visit(json.title, json.panels);
  return out;
}

/** Grafana's built-in interval variables, as a Prometheus scraping every second sees them. */
export function withGrafanaVariables(expr: string, rateInterval = '1m'): string {
  return expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$__interval', '15s').replaceAll('$__range', '5m');
}

/**
 * The signal an alert watches: its expression with every comparison made a `bool` comparison, so that it returns a
 * 0/1 series whether or not the alert would fire. An alert whose signal has no data can never fire: that is what the
 * check looks for. Comparisons inside label matchers (`{...}`), ranges (`[...]`) and strings are left alone.
 */
export function alertSignal(expr: string): string {
  let out = '';
  let braces = 0;
  let quote: string | undefined;
  for (let i = 0; i < expr.length; i++) {
    const ch = expr[i] as string;
    if (quote) {
      out += ch;
      if (ch === '\\') out += expr[++i] ?? '';
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') quote = ch;
    else if (ch === '{' || ch === '[') braces++;
    else if (ch === '}' || ch === ']') braces--;
    const two = expr.slice(i, i + 2);
    if (braces === 0 && !quote && ['==', '!=', '>=', '<='].includes(two)) {
      out += `${two} bool`;
      i++;
      continue;
    }
    if (braces === 0 && !quote && (ch === '>' || ch === '<')) {
      out += `${ch} bool`;
      continue;
    }
    out += ch;
  }
  return out.replace(/bool\s+bool/g, 'bool');
}

/** A trace as Jaeger's HTTP API returns it, flattened: one entry per span, with its service and parent. */
export type TraceSpan = {
  spanId: string;
  parentId?: string;
  name: string;
  service: string;
  kind: string;
  tags: Record<string, unknown>;
  /** Links to spans of other traces (Jaeger shows an OpenTelemetry link as a FOLLOWS_FROM reference). */
  links: Array<{ traceId: string; spanId: string }>;
};

type JaegerTrace = {
  spans: Array<{
    spanID: string;
    operationName: string;
    processID: string;
    references?: Array<{ refType: string; traceID: string; spanID: string }>;
    tags: Array<{ key: string; value: unknown }>;
  }>;
  processes: Record<string, { serviceName: string }>;
};

export async function fetchTrace(queryUrl: string, traceId: string): Promise<TraceSpan[]> {
  const response = await fetch(`${queryUrl}/api/traces/${traceId}`, { signal: AbortSignal.timeout(5000) });
  if (response.status === 404) return [];
  if (!response.ok) throw new Error(`jaeger answered ${response.status} for trace ${traceId}`);
  const body = (await response.json()) as { data: JaegerTrace[] };
  const trace = body.data[0];
  if (!trace) return [];
  return trace.spans.map((span) => {
    const tags = Object.fromEntries(span.tags.map((tag) => [tag.key, tag.value]));
    return {
      spanId: span.spanID,
      parentId: span.references?.find((ref) => ref.refType === 'CHILD_OF')?.spanID,
      name: span.operationName,
      service: trace.processes[span.processID]?.serviceName ?? '?',
      kind: String(tags['span.kind'] ?? 'internal'),
      tags,
      links: (span.references ?? [])
        .filter((ref) => ref.refType === 'FOLLOWS_FROM')
        .map((ref) => ({ traceId: ref.traceID, spanId: ref.spanID })),
    };
  });
}

export type SpanMatcher = { service: string; kind: string; name: string | RegExp };

export function matches(span: TraceSpan, matcher: SpanMatcher): boolean {
  const nameOk = typeof matcher.name === 'string' ? span.name === matcher.name : matcher.name.test(span.name);
  return span.service === matcher.service && span.kind === matcher.kind && nameOk;
}

export function describeMatcher(matcher: SpanMatcher): string {
  return `${matcher.service} ${matcher.kind.toUpperCase()} "${matcher.name}"`;
}

/** The spans matching `child` whose parent matches `parent`: the edge parent -> child exists when this is non-empty. */
export function edge(spans: readonly TraceSpan[], parent: SpanMatcher, child: SpanMatcher): Array<{ parent: TraceSpan; child: TraceSpan }> {
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const found: Array<{ parent: TraceSpan; child: TraceSpan }> = [];
  for (const span of spans) {
    if (!matches(span, child) || !span.parentId) continue;
    const up = byId.get(span.parentId);
    if (up && matches(up, parent)) found.push({ parent: up, child: span });
  }
  return found;
}
