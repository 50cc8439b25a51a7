import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensurePrometheus, REPO_ROOT } from '@jetsaga/devstack';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { dashboards, plainRuleFile, RULE_TESTS_DIR, ruleGroups } from './support/observability.js';

const run = promisify(execFile);

let promtool: string;
let work: string;
const testFiles = readdirSync(RULE_TESTS_DIR).filter((name) => name.endsWith('.yaml'));
const alerts = ruleGroups().flatMap((group) => group.rules);

beforeAll(async () => {
  ({ promtool } = await ensurePrometheus((message) => console.log(`[alert rules] ${message}`)));
  // promtool wants plain rule files: the groups of the PrometheusRule, beside a copy of each test file.
  work = await mkdtemp(join(tmpdir(), 'jetsaga-rules-'));
  await writeFile(join(work, 'jetsaga.rules.yaml'), plainRuleFile());
  for (const file of testFiles) await copyFile(join(RULE_TESTS_DIR, file), join(work, file));
}, 300_000);

describe('alert rules (promtool)', () => {
  it('are valid rules', async () => {
    const { stdout } = await run(promtool, ['check', 'rules', join(work, 'jetsaga.rules.yaml')]);
    expect(stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
  });

  it('pass their unit tests: each alert fires on the series that should raise it and goes quiet after', async () => {
    const result = await run(promtool, ['test', 'rules', ...testFiles], { cwd: work }).catch(
      (error: { stdout: string; stderr: string }) => error,
    );
    const output = `${result.stdout}${result.stderr}`;
    expect(output, output).not.toMatch(/FAILED/);
    expect(result.stdout).toMatch(/SUCCESS/);
  });

  it('test every alert both ways: firing, then silent again', () => {
    type Case = { alertname: string; eval_time: string; exp_alerts?: unknown[] };
    const cases = testFiles.flatMap((file) => {
      const parsed = parseYaml(readFileSync(join(RULE_TESTS_DIR, file), 'utf8')) as { tests: Array<{ alert_rule_test?: Case[] }> };
      return parsed.tests.flatMap((test) => test.alert_rule_test ?? []);
    });
    const seconds = (duration: string) => Number.parseInt(duration, 10) * ({ s: 1, m: 60, h: 3600 }[duration.slice(-1)] ?? 1);
    for (const { alert } of alerts) {
      const mine = cases.filter((c) => c.alertname === alert).sort((a, b) => seconds(a.eval_time) - seconds(b.eval_time));
      const firing = mine.findIndex((c) => (c.exp_alerts ?? []).length > 0);
      expect(firing, `${alert} is tested firing`).toBeGreaterThanOrEqual(0);
      expect(
        mine.slice(firing + 1).some((c) => (c.exp_alerts ?? []).length === 0),
        `${alert} is tested silent after firing`,
      ).toBe(true);
    }
  });

  it('give every alert a severity, a summary, a description and a runbook that exists', () => {
    for (const rule of alerts) {
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      const runbook = rule.annotations?.runbook_url ?? '';
      expect(runbook, rule.alert).toMatch(/^docs\/runbooks\/[a-z-]+\.md$/);
      expect(existsSync(join(REPO_ROOT, runbook)), `${rule.alert}: ${runbook}`).toBe(true);
      expect(readFileSync(join(REPO_ROOT, runbook), 'utf8'), `${runbook} names its alert`).toContain(rule.alert);
    }
  });
});

describe('Grafana dashboards', () => {
  it('have unique uids, and every query goes to the selectable Prometheus datasource', () => {
    const all = dashboards();
    expect(all.map((d) => d.file).sort()).toEqual([
      'audit.json',
      'event-flow.json',
      'event-store.json',
      'notification.json',
      'saga-overview.json',
      'service-health.json',
      'shipping.json',
      'support.json',
    ]);
    expect(new Set(all.map((d) => d.json.uid)).size).toBe(all.length);
    for (const { file, json } of all) {
      const panels = json.panels as Array<{ title: string; datasource?: { uid?: string }; targets?: Array<{ expr?: string }> }>;
      expect(panels.length, file).toBeGreaterThan(0);
      for (const panel of panels) {
        expect(panel.datasource?.uid, `${file}: ${panel.title}`).toBe('${datasource}');
        expect(
          (panel.targets ?? []).every((target) => (target.expr ?? '').length > 0),
          `${file}: ${panel.title}`,
        ).toBe(true);
      }
    }
  });
});
