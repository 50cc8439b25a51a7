import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The docs repeat the benchmark's figures and list the ADRs; scripts/docs-sync.mjs generates those parts from
 * bench/results/latest.json and docs/adr. A doc that says something else than its source fails here.
 */

type Sync = {
  ROOT: string;
  DOCS: string[];
  BLOCKS: Record<string, unknown>;
  readAdrs(): Promise<Array<{ number: string; file: string; title: string }>>;
  syncText(text: string, report: unknown, context: unknown, filepath: string): Promise<{ text: string; names: string[] }>;
  syncAll(options: { write: boolean }): Promise<Array<{ doc: string; names: string[]; inSync: boolean }>>;
};

let sync: Sync;
let report: any;

beforeAll(async () => {
  const script = new URL('../../scripts/docs-sync.mjs', import.meta.url).href;
  sync = (await import(script)) as Sync;
  report = JSON.parse(await readFile(join(sync.ROOT, 'bench', 'results', 'latest.json'), 'utf8'));
});

async function generated(doc: string, source: unknown, context?: unknown): Promise<string> {
  const path = join(sync.ROOT, doc);
  return (await sync.syncText(await readFile(path, 'utf8'), source, context ?? { adrs: await sync.readAdrs() }, path)).text;
}

describe('docs generated from the benchmark report and the ADR folder', () => {
  it('are in sync with bench/results/latest.json and docs/adr (else run node scripts/docs-sync.mjs)', async () => {
    const results = await sync.syncAll({ write: false });
    expect(results.filter((result) => !result.inSync).map((result) => result.doc)).toEqual([]);
  });

  it('have generated parts, every one of them known, and every known part used', async () => {
    const results = await sync.syncAll({ write: false });
    const used = new Set(results.flatMap((result) => result.names));
    expect([...used].sort()).toEqual(Object.keys(sync.BLOCKS).sort());
  });

  it('go out of sync when a figure of the report changes', async () => {
    const changed = structuredClone(report);
    const pass = changed.passes.find((candidate: { syncAlways: boolean }) => candidate.syncAlways);
    pass.raw.natscli.publishPerSecond += 1234;
    for (const step of pass.steps) step.completedPerSecond += 3;
    for (const doc of ['README.md', 'docs/performance.md']) {
      expect(await generated(doc, changed), doc).not.toBe(await readFile(join(sync.ROOT, doc), 'utf8'));
    }
  });

  it('go out of sync when an ADR is added', async () => {
    const adrs = await sync.readAdrs();
    const more = [...adrs, { number: '9999', file: '9999-a-new-decision.md', title: 'a new decision' }];
    const text = await generated('docs/adr/README.md', report, { adrs: more });
    expect(text).toContain('9999-a-new-decision.md');
    expect(text).not.toBe(await readFile(join(sync.ROOT, 'docs', 'adr', 'README.md'), 'utf8'));
  });

  it('refuse a generated part they do not know', async () => {
    await expect(
      sync.syncText('<!-- generated:nothing-like-it -->x<!-- /generated:nothing-like-it -->\n', report, {}, 'x.md'),
    ).rejects.toThrow(/unknown generated part "nothing-like-it"/);
  });
});

describe('runbooks', () => {
  it('name only dashboards and panels that exist in observability/grafana/dashboards', async () => {
    const { readdir } = await import('node:fs/promises');
    const root = sync.ROOT;
    const dashboards: string[] = [];
    const panels: string[] = [];
    const walk = (list: Array<{ title?: string; panels?: unknown[] }> = []) => {
      for (const panel of list) {
        if (panel.title) panels.push(panel.title);
        walk(panel.panels as typeof list);
      }
    };
    const dashboardDir = join(root, 'observability', 'grafana', 'dashboards');
    for (const file of (await readdir(dashboardDir)).filter((name) => name.endsWith('.json'))) {
      const dashboard = JSON.parse(await readFile(join(dashboardDir, file), 'utf8'));
      dashboards.push(String(dashboard.title).split('/').pop()?.trim().toLowerCase() ?? '');
      walk(dashboard.panels);
    }
    expect(panels.length).toBeGreaterThan(0);
    const runbookDir = join(root, 'docs', 'runbooks');
    const named: string[] = [];
    for (const file of (await readdir(runbookDir)).filter((name) => name.endsWith('.md'))) {
      // Prose only: code blocks and code spans hold commands and label values, not panel names.
      const prose = (await readFile(join(runbookDir, file), 'utf8')).replace(/```[\s\S]*?```/g, '').replace(/`[^`]*`/g, '');
      for (const [, quoted] of prose.matchAll(/"([^"\n]+)"/g)) {
        named.push(quoted as string);
        expect(
          panels.some((title) => title.startsWith(quoted as string)),
          `${file}: no panel "${quoted}"`,
        ).toBe(true);
      }
      for (const [, dashboard] of prose.matchAll(/([A-Z][a-z]+(?: [a-z]+)?) dashboard/g)) {
        expect(dashboards, `${file}: no dashboard "${dashboard}"`).toContain((dashboard as string).toLowerCase());
      }
    }
    expect(named.length).toBeGreaterThan(0);
  });
});
