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

/** Whether a NATS subject filter (`*` one token, `>` the rest) matches a subject. */
export function subjectMatches(filter: string, subject: string): boolean {
  const want = filter.split('.');
  const have = subject.split('.');
  for (const [index, token] of want.entries()) {
    if (token === '>') return have.length > index;
    if (index >= have.length || (token !== '*' && token !== have[index])) return false;
  }
  return want.length === have.length;
}

/** An event of a saga, as the event store returns it. */
export type SagaEvent = { id: string; type: string; aggregateType: string; aggregateId: string; causationId: string };

/** Who processes which events: a consumer group (a durable consumer, or the event store's mirror) and its filters. */
export type Subscription = { service: string; consumer: string; filterSubjects: readonly string[] };

const messageIdOf = (span: TraceSpan) => String(span.tags['messaging.message.id'] ?? '');

/**
 * Every hop of a saga, checked against its trace, from its events and the system's subscriptions rather than from a
 * list: each event was sent by the service that emitted it, under the span that caused it (that service's process
 * span of the causation event, or for the saga's first events and the deadline's cancellation, another span of that
 * service); and each subscriber of its subject processed it under that send. Returns the hops that are missing, and
 * the messaging spans of the trace that belong to no event of the saga.
 */
export function sagaHops(
  spans: readonly TraceSpan[],
  events: readonly SagaEvent[],
  subscriptions: readonly Subscription[],
): { missing: string[]; stray: string[] } {
  const byId = new Map(spans.map((span) => [span.spanId, span]));
  const eventsById = new Map(events.map((event) => [event.id, event]));
  const template = (event: SagaEvent) => `events.${event.aggregateType}.*.${event.type}`;
  const missing: string[] = [];
  for (const event of events) {
    const sends = spans.filter((span) => span.kind === 'producer' && messageIdOf(span) === event.id);
    const send = sends.find((span) => span.name === `send ${template(event)}`);
    if (!send) {
      missing.push(`send ${template(event)} (event ${event.id})`);
      continue;
    }
    const parent = send.parentId ? byId.get(send.parentId) : undefined;
    const cause = eventsById.get(event.causationId);
    if (cause) {
      const causedHere = parent?.kind === 'consumer' && parent.service === send.service && messageIdOf(parent) === cause.id;
      if (!causedHere) missing.push(`${send.service} CONSUMER "process ${template(cause)}" -> PRODUCER "send ${template(event)}"`);
    } else if (!parent || parent.service !== send.service) {
      missing.push(`a span of ${send.service} -> PRODUCER "send ${template(event)}" (caused by ${event.causationId})`);
    }
    const subject = `events.${event.aggregateType}.${event.aggregateId}.${event.type}`;
    for (const subscription of subscriptions) {
      if (!subscription.filterSubjects.some((filter) => subjectMatches(filter, subject))) continue;
      const processed = spans.some(
        (span) =>
          span.kind === 'consumer' &&
          span.service === subscription.service &&
          span.tags['messaging.consumer.group.name'] === subscription.consumer &&
          messageIdOf(span) === event.id &&
          sends.some((sent) => sent.spanId === span.parentId),
      );
      if (!processed)
        missing.push(`${send.service} PRODUCER "send ${template(event)}" -> ${subscription.service} CONSUMER "process ${template(event)}"`);
    }
  }
  const stray = spans
    .filter(
      (span) => (span.kind === 'producer' || span.kind === 'consumer') && / events\./.test(span.name) && !eventsById.has(messageIdOf(span)),
    )
    .map((span) => `${span.service} ${span.kind} ${span.name} (${messageIdOf(span) || 'no message id'})`);
  return { missing, stray };
}
