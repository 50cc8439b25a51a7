#!/usr/bin/env node
// The figures the docs repeat from the benchmark, and the ADR index, generated from their single sources:
// bench/results/latest.json (written by `npm run bench`) and the files of docs/adr. Each generated part sits between
// `<!-- generated:<name> -->` and `<!-- /generated:<name> -->` in a Markdown file; this script rewrites those parts
// (`node scripts/docs-sync.mjs`), or lists the files that are out of date and fails (`--check`).
// tests/src/docs-sync.unit.test.ts runs the check in `npm test`.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The Markdown files that hold generated parts. */
export const DOCS = [
  'README.md',
  'bench/README.md',
  'docs/performance.md',
  'docs/adr/README.md',
  'docs/adr/0033-nats-jetstream-as-the-broker.md',
];

// ---------------------------------------------------------------------------------------------------------------
// Formatting, in the docs' own style

const grouped = (value, digits = 0) => value.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: digits });
const count = (value) => grouped(Math.round(value));
const rate = (value) => grouped(value, 1);
const ratio = (value) => `${grouped(value, 2)}x`;
const duration = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${grouped(ms / 1000, 1)} s`);
const mb = (value) => `${Math.round(value)} MB`;
/** An objective's measured figure: ratios (below 10) keep three decimals, the rest one. */
const measured = (value) => (typeof value !== 'number' ? value : grouped(value, Math.abs(value) < 10 ? 3 : 1));
const WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
const spelled = (value) => WORDS[value] ?? count(value);

/** A paragraph wrapped at the docs' line width (Prettier keeps prose as it is written). */
function wrap(text, width = 118) {
  const lines = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    // A line must not start with what Markdown reads as a block marker (`>`, `-`, `+`, `#`, `|`, `1.`).
    const safeStart = !/^([>=<|#+*-]|\d+[.)])/.test(word);
    if (line && safeStart && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

function cpuName(model) {
  return model
    .replace(/\((R|TM|tm|r)\)/g, '')
    .replace(/\b(Processor|CPU)\b.*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function table(head, align, rows) {
  return [`| ${head.join(' | ')} |`, `| ${align.map((a) => (a === 'r' ? '---:' : a === 'c' ? ':--:' : '---')).join(' | ')} |`]
    .concat(rows.map((row) => `| ${row.join(' | ')} |`))
    .join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// What the report says

function passOf(report, syncAlways) {
  const pass = report.passes.find((candidate) => candidate.syncAlways === syncAlways);
  if (!pass) throw new Error(`the report has no pass with sync_interval ${syncAlways ? 'always' : 'default'}`);
  return pass;
}

/** The step a pass is judged by: its highest sustained rate, else its first step. */
function referenceStep(pass) {
  const sustained = pass.steps.filter((step) => step.sustained);
  return sustained[sustained.length - 1] ?? pass.steps[0];
}

function peakStep(pass) {
  return pass.steps.reduce((best, step) => (step.completedPerSecond > best.completedPerSecond ? step : best));
}

function servicePeakMemory(report) {
  const services = ['gateway', 'order', 'inventory', 'payment', 'sales', 'event-store'];
  const values = report.passes.flatMap((pass) =>
    pass.steps.flatMap((step) => services.map((name) => step.processes[name]?.peakMemoryMb).filter((value) => value !== undefined)),
  );
  return { min: Math.min(...values), max: Math.max(...values) };
}

function sustainedCell(step) {
  if (step.sustained) return 'yes';
  const why = [];
  if (step.unfinished) why.push(`${count(step.unfinished)} unfinished`);
  if (step.errors) why.push(`${count(step.errors)} failed`);
  if (step.droppedIterations) why.push(`${count(step.droppedIterations)} shoppers never started`);
  if (step.rejected) why.push(`${count(step.rejected)} shoppers turned away with a 429`);
  return why.length > 0 ? `no (${why.join(', ')})` : 'no';
}

function machineLine(report) {
  const { machine } = report;
  return (
    `${report.generatedAt.slice(0, 10)}: ${machine.cores} cores, ${cpuName(machine.cpuModel)}, ${rate(machine.memoryGb)} GB, ` +
    `Node ${machine.node.replace(/^v/, '').split('.')[0]}, nats-server ${machine.natsServer}, everything co-located with k6, ` +
    `load average ${rate(machine.loadAverage[0])} before the run and ${rate(machine.loadAverageAfter[0])} after`
  );
}

function objectivesSentence(report) {
  return report.objectives
    .map((objective) => {
      return `${objective.name} ${measured(objective.measured)} (objective \`${objective.objective}\`: ${objective.met ? 'met' : 'not met'})`;
    })
    .join('; ');
}

function durabilityFigures(report) {
  const always = passOf(report, true);
  const relaxed = passOf(report, false);
  return {
    natscli: relaxed.raw.natscli.publishPerSecond / always.raw.natscli.publishPerSecond,
    node: relaxed.raw.nodeClient.publishPerSecond / always.raw.nodeClient.publishPerSecond,
    peakAlways: peakStep(always).completedPerSecond,
    peakDefault: peakStep(relaxed).completedPerSecond,
    always,
    relaxed,
  };
}

function sagaLevelSentence(report) {
  const d = durabilityFigures(report);
  const change = d.peakDefault / d.peakAlways;
  if (Math.abs(change - 1) < 0.1) {
    return `At the saga level the two passes differ by less than the noise of a shared machine: at saturation ${rate(d.peakAlways)} sagas/s with \`always\` against ${rate(d.peakDefault)} with the default.`;
  }
  const more = change > 1 ? 'more' : 'fewer';
  const [a, r] = [referenceStep(d.always).offeredPerSecond, referenceStep(d.relaxed).offeredPerSecond];
  const sustained =
    a === r ? `both passes sustained ${count(a)} shoppers/s` : `\`always\` sustained ${count(a)} shoppers/s and the default ${count(r)}`;
  return `At the saga level the default setting completed ${rate(d.peakDefault)} sagas/s at its peak against ${rate(d.peakAlways)} with \`always\` (${Math.round(Math.abs(change - 1) * 100)}% ${more}); ${sustained}.`;
}

/** The peers against jetsaga: ratios, where the CPU goes, memory, checks, and what happens past each one's limit. */
function peerReading(report, always, peers, engine, headline) {
  const OUTSIDE = ['bench driver', 'k6'];
  const inside = (step) => Object.entries(step?.processes ?? {}).filter(([name]) => !OUTSIDE.includes(name));
  const name = (peer) => engine[peer.name] ?? peer.name;
  const working = peers.filter((peer) => !peer.error && peer.steps?.length > 0);
  const parts = [];
  const ratios = working
    .filter((peer) => peer.ratios)
    .map((peer) => {
      const r = peer.ratios;
      return (
        `jetsaga / ${name(peer)} is ${grouped(r.sustainedRateJetsagaVsPeer, 2)}x the highest sustained rate and ${grouped(r.cpuMsPerSagaJetsagaVsPeer, 2)}x the CPU per saga ` +
        `(${grouped(r.jetsagaCpuMsPerSaga, 1)} against ${grouped(r.peerCpuMsPerSaga, 1)} ms at ${count(r.cpuComparedAtOfferedPerSecond)} offered/s${r.cpuComparedAtSustainedRate ? ', a rate both sustained' : `, which ${name(peer)} did not sustain`})`
      );
    });
  if (ratios.length > 0) parts.push(`Read beside the peers: ${ratios.join('; ')}.`);
  const at = working.find((peer) => peer.ratios)?.ratios.cpuComparedAtOfferedPerSecond;
  if (at !== undefined) {
    const cpu = (step) =>
      inside(step)
        .filter(([, process]) => process.cpuMsPerSaga !== undefined)
        .sort(([, a], [, b]) => b.cpuMsPerSaga - a.cpuMsPerSaga)
        .map(([process, figures]) => `${process} ${grouped(figures.cpuMsPerSaga, 1)} ms`)
        .join(', ');
    const mine = always.steps.find((step) => step.offeredPerSecond === at);
    const theirs = working.map((peer) => [peer, peer.steps.find((step) => step.offeredPerSecond === at)]).filter(([, step]) => step);
    const statements = (step) =>
      step?.database?.statementsPerSaga !== undefined ? ` (Postgres ${grouped(step.database.statementsPerSaga, 0)} statements)` : '';
    if (mine) {
      parts.push(
        `CPU per saga at ${count(at)}/s: jetsaga: ${cpu(mine)}${statements(mine)}; ${theirs.map(([peer, step]) => `${name(peer)}: ${cpu(step)}${statements(step)}`).join('; ')}.`,
      );
    }
  }
  const rss = (steps, summary) => {
    const list = inside(headline(steps, summary)).filter(([, process]) => process.peakMemoryMb !== undefined);
    return `${count(list.reduce((sum, [, process]) => sum + process.peakMemoryMb, 0))} MB over ${spelled(list.length)} processes`;
  };
  parts.push(
    `Peak RSS at each system's highest sustained rate: jetsaga ${rss(always.steps, always.summary)}, ${working.map((peer) => `${name(peer)} ${rss(peer.steps, peer.summary)}`).join(', ')}.`,
  );
  const checked = working.map((peer) => `${name(peer)} ${peer.checks?.passed ? 'passed' : 'FAILED'}`);
  if (checked.length > 0) parts.push(`Invariant checks (stock, money, every order ended, compensation probes): ${checked.join(', ')}.`);
  const past = working
    .map((peer) => [peer, peer.steps.find((step) => !step.sustained)])
    .filter(([, step]) => step)
    .map(
      ([peer, step]) =>
        `${name(peer)} completed ${rate(step.completedPerSecond)} sagas/s at ${count(step.offeredPerSecond)} offered (p50 ${duration(step.latencyMs.p50)})`,
    );
  if (past.length > 0) parts.push(`Past its highest sustained rate, ${past.join('; ')}.`);
  const failed = peers.filter((peer) => peer.error).map(name);
  if (failed.length > 0) parts.push(`Failed in this run: ${failed.join(', ')} (the report has the error).`);
  return parts.join(' ');
}

// ---------------------------------------------------------------------------------------------------------------
// The generated parts

export const BLOCKS = {
  /** README: the latest run's saga table, raw limits and what they mean. */
  'bench-summary'(report) {
    const always = passOf(report, true);
    const relaxed = passOf(report, false);
    const reference = referenceStep(always);
    const peak = peakStep(always);
    const rebuilds = always.projectionRebuilds.map((rebuild) => rebuild.perSecond);
    const d = durabilityFigures(report);
    const memory = servicePeakMemory(report);
    const eventsVsRaw = always.summary.peakEventsPerSecond / always.raw.natscli.publishPerSecond;
    return [
      wrap(
        `Latest run (\`bench/results/latest.md\`, ${machineLine(report)}); \`sync_interval: always\`, ${count(report.options.customers)} customers, ${count(report.options.products)} products, tracing ${report.options.tracing}, ${count(report.options.stepSeconds)} s per step:`,
      ),
      '',
      table(
        ['offered shoppers/s', 'completed sagas/s', 'events/s', 'saga p50', 'p95', 'p99', 'sustained'],
        ['r', 'r', 'r', 'r', 'r', 'r', 'l'],
        // The ramp, then the steps past saturation at multiples of its peak (reports before those existed have none).
        [...always.steps, ...(always.overloadSteps ?? [])].map((step) => [
          step.overloadMultiple
            ? `${count(step.offeredPerSecond)} (${grouped(step.overloadMultiple, 1)}x the peak)`
            : count(step.offeredPerSecond),
          rate(step.completedPerSecond),
          count(step.eventsPerSecond),
          duration(step.latencyMs.p50),
          duration(step.latencyMs.p95),
          duration(step.latencyMs.p99),
          sustainedCell(step),
        ]),
      ),
      '',
      table(
        [
          `raw limit on the same servers, ${count(always.raw.messageBytes)}-byte messages`,
          '`sync_interval: always`',
          'default sync',
          'the system',
        ],
        ['l', 'r', 'r', 'l'],
        [
          [
            'JetStream async publish (natscli `nats bench`)',
            count(always.raw.natscli.publishPerSecond),
            count(relaxed.raw.natscli.publishPerSecond),
            `${count(always.summary.peakEventsPerSecond)} events/s stored at most (${grouped(eventsVsRaw, 2)} of raw)`,
          ],
          [
            'JetStream async publish (Node client)',
            count(always.raw.nodeClient.publishPerSecond),
            count(relaxed.raw.nodeClient.publishPerSecond),
            '',
          ],
          [
            "Postgres batched insert (the mirror's statement)",
            `${count(always.raw.postgresInsert.rowsPerSecond)} rows/s`,
            '',
            `mirror catch-up ${count(always.mirrorCatchUp.perSecond)} events/s (${grouped(always.mirrorCatchUp.perSecond / always.raw.postgresInsert.rowsPerSecond, 2)})`,
          ],
          [
            `projection rebuilds, ${spelled(always.projectionRebuilds.length)} read models`,
            '',
            '',
            `${count(Math.min(...rebuilds))}-${count(Math.max(...rebuilds))} events/s`,
          ],
        ],
      ),
      '',
      wrap(
        `Durability costs ${grouped(Math.min(d.natscli, d.node), 1)}-${grouped(Math.max(d.natscli, d.node), 1)}x in raw JetStream publish rate. ${sagaLevelSentence(report)} ` +
          `At ${count(reference.offeredPerSecond)} shoppers/s Postgres used ${grouped(reference.processes.postgres.cpuMsPerSaga, 1)} ms of CPU per saga against ${grouped(reference.serviceCpuMsPerSaga, 1)} ms for the six services together. ` +
          `Peak: ${rate(peak.completedPerSecond)} sagas/s at ${count(peak.offeredPerSecond)} offered. Services peaked at ${Math.round(memory.min)}-${mb(memory.max)} RSS across both passes. ` +
          `Against the objectives: ${objectivesSentence(report)}.`,
      ),
    ].join('\n');
  },

  /** README: jetsaga beside the same saga on the workflow engines (the bench's peers), when the report has them. */
  'bench-peers'(report) {
    const peers = report.peers ?? [];
    if (peers.length === 0) {
      return wrap(
        'The latest report holds no peer results (it measured jetsaga alone); `npm run bench` also runs the same saga on DBOS Transact and on Temporal, same load, same machine, and reports them beside jetsaga ([bench/README.md](bench/README.md)).',
      );
    }
    const engine = { dbos: 'DBOS Transact', temporal: 'Temporal' };
    const always = passOf(report, true);
    const headline = (steps, summary) => steps.find((step) => step.offeredPerSecond === summary?.highestSustainedRate) ?? steps[0];
    const rowOf = (name, steps, summary, checks) => {
      const step = headline(steps, summary);
      return [
        name,
        summary?.highestSustainedRate === null || summary?.highestSustainedRate === undefined
          ? 'none'
          : `${count(summary.highestSustainedRate)}/s`,
        step ? duration(step.latencyMs.p99) : '—',
        step?.systemCpuMsPerSaga === undefined ? '—' : `${grouped(step.systemCpuMsPerSaga, 1)} ms`,
        checks,
      ];
    };
    const rows = [rowOf('jetsaga', always.steps, always.summary, 'the test suites')];
    for (const peer of peers) {
      const name = `${engine[peer.name] ?? peer.name}${peer.engine?.version ? ` ${peer.engine.version}` : ''}`;
      if (peer.error) rows.push([name, 'failed', '—', '—', '—']);
      else rows.push(rowOf(name, peer.steps, peer.summary, peer.checks?.passed ? 'passed' : 'FAILED'));
    }
    return [
      'The same saga on the workflow engines, same load, same machine, same run (`bench/README.md`, "peers"):',
      '',
      table(
        ['system', 'highest sustained rate', 'saga p99 there', 'CPU per saga there, whole system', 'invariant checks'],
        ['l', 'r', 'r', 'r', 'l'],
        rows,
      ),
      '',
      wrap(peerReading(report, always, peers, engine, headline)),
    ].join('\n');
  },

  /** docs/performance.md: the latest run in one paragraph. */
  'bench-latest'(report) {
    const always = passOf(report, true);
    const reference = referenceStep(always);
    const peak = peakStep(always);
    const relaxed = passOf(report, false);
    return wrap(
      `The report in \`bench/results/latest.md\` (${machineLine(report)}; the whole run took ${rate(report.durationSeconds / 60)} min): ` +
        `${rate(reference.completedPerSecond)} sagas/s completed at ${count(reference.offeredPerSecond)}/s offered (p99 ${duration(reference.latencyMs.p99)}), ` +
        `saturation at ${rate(peak.completedPerSecond)} sagas/s; at ${count(reference.offeredPerSecond)}/s Postgres used ${grouped(reference.processes.postgres.cpuMsPerSaga, 1)} ms of CPU per saga against ` +
        `${grouped(reference.serviceCpuMsPerSaga, 1)} ms for the six services together (${grouped(reference.processes.order.cpuMsPerSaga, 1)} ms the order service, ` +
        `${grouped(reference.processes['event-store'].cpuMsPerSaga, 1)} ms the event store); raw JetStream publish ${count(always.raw.natscli.publishPerSecond)}/s with ` +
        `\`sync_interval: always\` and ${count(relaxed.raw.natscli.publishPerSecond)}/s with the default; Postgres statements per saga ${grouped(reference.database.statementsPerSaga, 1)}.`,
    );
  },

  /** docs/performance.md: the objectives and where they stand. */
  'bench-objectives'(report) {
    return table(
      ['objective', 'target', 'measured', 'met'],
      ['l', 'l', 'r', 'c'],
      report.objectives.map((objective) => [
        objective.name,
        objective.objective,
        measured(objective.measured),
        objective.met ? 'yes' : 'no',
      ]),
    );
  },

  /** docs/performance.md: peak memory of the services, inline. */
  'bench-memory'(report) {
    const memory = servicePeakMemory(report);
    return `${Math.round(memory.min)}-${mb(memory.max)} RSS per service across both passes of the latest run`;
  },

  /** docs/performance.md: the mirror's catch-up against the same insert alone, inline. */
  'bench-catch-up'(report) {
    const always = passOf(report, true);
    return `${count(always.mirrorCatchUp.perSecond)} events/s against ${count(always.raw.postgresInsert.rowsPerSecond)} rows/s`;
  },

  /** docs/performance.md and the broker ADR: what `sync_interval: always` costs. */
  'bench-durability'(report) {
    const d = durabilityFigures(report);
    const { always, relaxed } = d;
    const a = referenceStep(always);
    const r = referenceStep(relaxed);
    const row = (name, x, y, format = count) => [name, format(x), format(y), ratio(x / y)];
    return [
      wrap(`Measured in the latest report, both passes on the same machine with the same ${count(always.raw.messageBytes)}-byte messages:`),
      '',
      table(
        ['measure', '`always`', 'default', '`always` / default'],
        ['l', 'r', 'r', 'r'],
        [
          row('raw async publish, natscli `nats bench`', always.raw.natscli.publishPerSecond, relaxed.raw.natscli.publishPerSecond),
          row('raw async publish, Node client', always.raw.nodeClient.publishPerSecond, relaxed.raw.nodeClient.publishPerSecond),
          row('raw ordered consume, natscli', always.raw.natscli.consumePerSecond, relaxed.raw.natscli.consumePerSecond),
          row('raw ordered consume, Node client', always.raw.nodeClient.consumePerSecond, relaxed.raw.nodeClient.consumePerSecond),
          row('peak completed sagas/s', d.peakAlways, d.peakDefault, rate),
          row('highest sustained rate, shoppers/s', a.offeredPerSecond, r.offeredPerSecond),
          [
            `saga p99 at ${count(a.offeredPerSecond)} / ${count(r.offeredPerSecond)} shoppers/s`,
            duration(a.latencyMs.p99),
            duration(r.latencyMs.p99),
            ratio(a.latencyMs.p99 / r.latencyMs.p99),
          ],
        ],
      ),
      '',
      wrap(
        `The system stored at most ${count(always.summary.peakEventsPerSecond)} events/s with \`always\`, ${grouped(always.summary.peakEventsPerSecond / always.raw.natscli.publishPerSecond, 2)} of that pass's raw publish rate. ${sagaLevelSentence(report)}`,
      ),
    ].join('\n');
  },

  /** The broker ADR: what fsync on every write costs, inline. */
  'bench-fsync'(report) {
    const d = durabilityFigures(report);
    const { always, relaxed } = d;
    const [a, r] = [referenceStep(always).offeredPerSecond, referenceStep(relaxed).offeredPerSecond];
    const sustained =
      a === r
        ? `the same highest sustained rate (${count(a)} shoppers/s)`
        : `highest sustained rates of ${count(a)} and ${count(r)} shoppers/s`;
    return (
      `${count(always.raw.natscli.publishPerSecond)} acknowledged publishes/s with \`always\` against ${count(relaxed.raw.natscli.publishPerSecond)} with the default ` +
      `(natscli, ${count(always.raw.messageBytes)}-byte messages: ${ratio(always.raw.natscli.publishPerSecond / relaxed.raw.natscli.publishPerSecond)}), while the whole system stored at most ` +
      `${count(always.summary.peakEventsPerSecond)} events/s; at saturation ${rate(d.peakAlways)} completed sagas/s with \`always\` against ${rate(d.peakDefault)} with the default ` +
      `(${ratio(d.peakAlways / d.peakDefault)}), with ${sustained}`
    );
  },

  /** bench/README.md: how long the latest full run took, inline. */
  'bench-duration'(report) {
    const peers = (report.peers ?? []).map((peer) => peer.name);
    return (
      `${Math.round(report.durationSeconds / 60)} minutes (${count(report.durationSeconds)} s: ${spelled(report.passes.length)} passes of ` +
      `${[...new Set(report.passes.map((pass) => pass.steps.length))].map(spelled).join(' and ')} steps, ${peers.length > 0 ? `then ${peers.join(' and ')}` : 'no peers'})`
    );
  },

  /** docs/adr/README.md: every ADR, from the files. */
  'adr-index'(_report, context) {
    return table(
      ['ADR', 'decision'],
      ['l', 'l'],
      context.adrs.map((adr) => [`[${adr.number}](${adr.file})`, adr.title]),
    );
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Rewriting the files

const MARKER = /<!-- generated:([a-z-]+) -->([\s\S]*?)<!-- \/generated:\1 -->/g;

/** The ADRs of docs/adr: number, file and the decision in its title. */
export async function readAdrs(root = ROOT) {
  const dir = join(root, 'docs', 'adr');
  const adrs = [];
  for (const file of (await readdir(dir)).filter((name) => /^\d{4}-.*\.md$/.test(name)).sort()) {
    const heading = (await readFile(join(dir, file), 'utf8')).split('\n').find((line) => line.startsWith('# ')) ?? file;
    adrs.push({ number: file.slice(0, 4), file, title: heading.replace(/^#\s+/, '').replace(/^(ADR\s+)?\d+[.:]\s*/, '') });
  }
  return adrs;
}

/** The text with every generated part rewritten, formatted as Prettier would (so `prettier --check` agrees). */
export async function syncText(text, report, context, filepath) {
  const names = [];
  const replaced = text.replace(MARKER, (_match, name, body) => {
    const block = BLOCKS[name];
    if (!block) throw new Error(`${filepath}: unknown generated part "${name}" (known: ${Object.keys(BLOCKS).join(', ')})`);
    names.push(name);
    const inline = !body.includes('\n');
    const content = block(report, context);
    return inline
      ? `<!-- generated:${name} -->${content}<!-- /generated:${name} -->`
      : `<!-- generated:${name} -->\n\n${content}\n\n<!-- /generated:${name} -->`;
  });
  const config = (await prettier.resolveConfig(filepath)) ?? {};
  return { text: await prettier.format(replaced, { ...config, filepath }), names };
}

export async function syncAll({ root = ROOT, write = false, reportPath = join(root, 'bench', 'results', 'latest.json') } = {}) {
  const report = JSON.parse(await readFile(reportPath, 'utf8'));
  const context = { adrs: await readAdrs(root) };
  const results = [];
  for (const doc of DOCS) {
    const path = join(root, doc);
    const current = await readFile(path, 'utf8').catch((error) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
    if (current === undefined) continue;
    const { text, names } = await syncText(current, report, context, path);
    const inSync = text === current;
    if (!inSync && write) await writeFile(path, text);
    results.push({ doc, names, inSync });
  }
  return results;
}

async function main() {
  const check = process.argv.includes('--check');
  // `--report <file>`: another report than bench/results/latest.json (to try a run's figures before keeping them).
  const at = process.argv.indexOf('--report');
  const results = await syncAll({
    write: !check,
    ...(at > 0 && process.argv[at + 1] ? { reportPath: resolve(process.argv[at + 1]) } : {}),
  });
  for (const result of results) {
    const state = result.inSync ? 'in sync' : check ? 'OUT OF DATE' : 'rewritten';
    console.log(`${relative(ROOT, resolve(ROOT, result.doc))}: ${state} (${result.names.join(', ') || 'no generated parts'})`);
  }
  if (check && results.some((result) => !result.inSync)) {
    console.error('run `node scripts/docs-sync.mjs` to regenerate them from bench/results/latest.json and docs/adr');
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
