#!/usr/bin/env node
// `npm run report`: a self-contained report of a running system (npm start, or --gateway / GATEWAY_URL), in Markdown
// and HTML: the scenario and what the system holds, a sequence diagram of the latest saga of each outcome drawn from
// its real events, the latest benchmark (bench/results/latest.*), the last fault run's invariants if one was
// recorded (tests/src/faults/record.ts), and the ADR index. Everything is read through the gateway's API and from the repository; the HTML
// inlines its CSS and SVG and loads nothing.
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAdrs } from './docs-sync.mjs';

/* global AbortSignal */
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const USAGE = `npm run report [-- --gateway <url>] [--out <dir>]

  --gateway <url>  the running system's gateway (default: GATEWAY_URL, else http://127.0.0.1:8080)
  --out <dir>      where report.md and report.html go (default: <data dir>/report when npm start's data
                   directory exists, else ./report; the data dir is JETSAGA_DATA_DIR or npm start's default)`;

/** npm start's data directory, decided the same way as scripts/start.mjs does. */
export function dataDir(env = process.env, uid = userInfo().uid) {
  if (env.JETSAGA_DATA_DIR) return env.JETSAGA_DATA_DIR;
  if (uid === 0) return '/var/tmp/jetsaga';
  return join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'jetsaga');
}

/** The fault suite's record of its last run (tests/src/faults/record.ts writes it at the same path). */
export function faultRecordPath(env = process.env) {
  if (env.JETSAGA_FAULT_RECORD) return env.JETSAGA_FAULT_RECORD;
  const cache = env.JETSAGA_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'jetsaga');
  return join(cache, 'faults', 'latest.json');
}

export function parseArgs(argv, env = process.env) {
  const options = { gateway: env.GATEWAY_URL ?? 'http://127.0.0.1:8080', out: undefined, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--gateway') options.gateway = value().replace(/\/+$/, '');
    else if (arg === '--out') options.out = value();
    else if (arg === '--help' || arg === '-h') options.help = true;
    else throw new Error(`unknown option ${arg}\n\n${USAGE}`);
  }
  return options;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the running system

async function client(gateway) {
  // An admin token (the event store's reports and the sagas are operations views): JETSAGA_TOKEN, else npm start's.
  const { bearerToken } = await import('./token.mjs');
  const headers = { authorization: `Bearer ${await bearerToken({ role: 'admin' })}` };
  return async function get(path, as = 'json') {
    const response = await fetch(`${gateway}${path}`, { headers, signal: AbortSignal.timeout(30_000) }).catch((error) => {
      throw new Error(`the gateway at ${gateway} does not answer (${error.cause?.code ?? error.message}); is the system running?`);
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`GET ${path} -> ${response.status} ${text.slice(0, 300)}`);
    return as === 'text' ? text : JSON.parse(text);
  };
}

async function allPages(get, path, key) {
  const items = [];
  let after = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page = await get(`${path}${separator}limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    items.push(...page[key]);
    after = page.next;
  } while (after);
  return items;
}

/** An outcome as a reader names it: COMPLETED, or CANCELLED with its reason. */
export function outcomeOf(saga) {
  return saga.outcome === 'CANCELLED' && saga.reason ? `CANCELLED (${saga.reason})` : saga.outcome;
}

/** Completed first, then the cancellations by reason. */
const byOutcome = ([a], [b]) => (a === 'COMPLETED' ? -1 : b === 'COMPLETED' ? 1 : a.localeCompare(b));

/** The latest ended saga of each outcome (by end time, then start time), completed first, then by name. */
export function latestByOutcome(sagas) {
  const latest = new Map();
  const time = (saga) => Date.parse(saga.endedAt ?? saga.startedAt ?? '') || 0;
  for (const saga of sagas) {
    if (saga.outcome !== 'COMPLETED' && saga.outcome !== 'CANCELLED') continue;
    const key = outcomeOf(saga);
    const best = latest.get(key);
    if (!best || time(saga) > time(best) || (time(saga) === time(best) && saga.correlationId > best.correlationId)) latest.set(key, saga);
  }
  return [...latest.entries()].sort(byOutcome);
}

export async function collect(gateway) {
  const get = await client(gateway);
  const status = await get('/api/event-store/status');
  const ended = [
    ...(await allPages(get, '/api/sagas?outcome=COMPLETED', 'sagas')),
    ...(await allPages(get, '/api/sagas?outcome=CANCELLED', 'sagas')),
  ];
  const pending = (await allPages(get, '/api/sagas?outcome=PENDING', 'sagas')).length;
  const counts = new Map();
  for (const saga of ended) counts.set(outcomeOf(saga), (counts.get(outcomeOf(saga)) ?? 0) + 1);
  const sagas = [];
  for (const [outcome, summary] of latestByOutcome(ended)) {
    const id = encodeURIComponent(summary.correlationId);
    const timeline = await get(`/api/sagas/${id}`);
    const mermaid = await get(`/api/sagas/${id}?format=mermaid`, 'text');
    const events = await allPages(get, `/api/events?correlationId=${id}`, 'events');
    sagas.push({ outcome, summary, timeline, mermaid, events });
  }
  return { gateway, generatedAt: new Date().toISOString(), status, counts: [...counts.entries()].sort(byOutcome), pending, sagas };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the repository

async function readOptional(path) {
  return readFile(path, 'utf8').catch((error) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
}

export async function repositoryParts(root = ROOT) {
  const benchDir = join(root, 'bench', 'results');
  const bench = {
    markdown: await readOptional(join(benchDir, 'latest.md')),
    svg: await readOptional(join(benchDir, 'latest.svg')),
    svgPath: join(benchDir, 'latest.svg'),
  };
  const adrs = await readAdrs(root);
  const record = await readOptional(faultRecordPath());
  return { bench, adrs, faults: record ? JSON.parse(record) : undefined };
}

// ---------------------------------------------------------------------------------------------------------------
// Diagrams

/** The participants and arrows of a Mermaid sequence diagram as the event store draws them. */
export function parseSequence(source) {
  const participants = [];
  const steps = [];
  for (const raw of source.split('\n')) {
    const line = raw.trim();
    let match;
    if ((match = /^participant\s+(\S+)/.exec(line))) participants.push(match[1]);
    else if ((match = /^(\S+?)-(?:>>|->|>)(\S+?):\s*(.*)$/.exec(line)))
      steps.push({ kind: 'arrow', from: match[1], to: match[2], label: match[3] });
    else if ((match = /^Note over\s+([^:]+):\s*(.*)$/.exec(line))) steps.push({ kind: 'note', over: match[1].trim(), label: match[2] });
  }
  for (const step of steps) {
    for (const name of step.kind === 'arrow' ? [step.from, step.to] : [step.over])
      if (!participants.includes(name)) participants.push(name);
  }
  return { participants, steps };
}

const escapeXml = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

/** The diagram as inline SVG: one lifeline per participant, one row per arrow or note. */
export function sequenceSvg(source, id = 'diagram') {
  const { participants, steps } = parseSequence(source);
  const column = 170;
  const rowHeight = 30;
  const top = 50;
  const width = Math.max(1, participants.length) * column;
  const height = top + steps.length * rowHeight + 30;
  const x = (name) => participants.indexOf(name) * column + column / 2;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11" role="img">`,
    `<defs><marker id="${id}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>`,
  ];
  for (const name of participants) {
    parts.push(`<rect x="${x(name) - 60}" y="8" width="120" height="24" rx="4" fill="#eef3fb" stroke="#5b7db8"/>`);
    parts.push(`<text x="${x(name)}" y="24" text-anchor="middle" font-weight="bold">${escapeXml(name)}</text>`);
    parts.push(`<line x1="${x(name)}" y1="32" x2="${x(name)}" y2="${height - 10}" stroke="#bbb" stroke-dasharray="4 3"/>`);
  }
  steps.forEach((step, index) => {
    const y = top + index * rowHeight + 12;
    if (step.kind === 'note') {
      parts.push(`<rect x="${x(step.over) - 80}" y="${y - 12}" width="160" height="20" fill="#fff8d6" stroke="#c9b458"/>`);
      parts.push(`<text x="${x(step.over)}" y="${y + 2}" text-anchor="middle">${escapeXml(step.label)}</text>`);
    } else if (step.from === step.to) {
      const cx = x(step.from);
      parts.push(`<path d="M${cx},${y} h30 v12 h-28" fill="none" stroke="#333" marker-end="url(#${id}-arrow)"/>`);
      parts.push(`<text x="${cx + 36}" y="${y + 4}">${index + 1}. ${escapeXml(step.label)}</text>`);
    } else {
      const [x1, x2] = [x(step.from), x(step.to)];
      parts.push(`<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" stroke="#333" marker-end="url(#${id}-arrow)"/>`);
      parts.push(`<text x="${(x1 + x2) / 2}" y="${y - 4}" text-anchor="middle">${index + 1}. ${escapeXml(step.label)}</text>`);
    }
  });
  parts.push('</svg>');
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

const SCENARIO = `A shopper creates a cart, adds items and checks out (\`POST /api/carts\`, \`/items\`, \`/checkout\`). The order
service records OrderPlaced and schedules the saga's deadline; inventory reserves every line (StockReserved) or none
(StockUnavailable: the order is CANCELLED, OUT_OF_STOCK); payment debits the customer (PaymentAccepted) or refuses
(PaymentRefused: inventory releases the stock, the order is CANCELLED, PAYMENT_REFUSED); sales records the sale
(SaleConfirmed: inventory commits the stock, the order is COMPLETED). A deadline that fires first cancels the order
(DEADLINE_EXCEEDED) with the compensations. No orchestrator: each service reacts to the events of the others.`;

function mdCell(text) {
  return String(text ?? '').replace(/\|/g, '\\|');
}

function ms(value) {
  return value === null || value === undefined ? '—' : `${value} ms`;
}

export function renderMarkdown(data, repo, files = { benchSvg: 'latest.svg' }) {
  const lines = [];
  const push = (...more) => lines.push(...more);
  push('# jetsaga report', '');
  push(`Generated ${data.generatedAt} from the running system behind ${data.gateway}.`, '');

  push('## Scenario', '', SCENARIO, '');
  const { mirror, projections } = data.status;
  push(
    `The event store holds ${mirror.position} of the ${mirror.streamPosition} messages of \`EVENTS\` (lag ${mirror.lag}); projections: ${projections
      .map((p) => `${p.name} v${p.version} ${p.state} (lag ${p.lag})`)
      .join(', ')}.`,
    '',
  );
  push('| outcome | sagas |', '|---|---:|');
  for (const [outcome, count] of data.counts) push(`| ${outcome} | ${count} |`);
  push(`| PENDING (not ended yet) | ${data.pending} |`, '');

  push('## Sagas', '');
  if (data.sagas.length === 0) push('No saga has ended yet: run `npm run demo`, then the report again.', '');
  for (const saga of data.sagas) {
    const { timeline } = saga;
    push(`### ${saga.outcome}`, '');
    push(
      `Latest saga with this outcome: correlation id \`${timeline.correlationId}\`, order \`${saga.summary.orderId ?? '—'}\`, started ${timeline.startedAt}, ended ${timeline.endedAt ?? '—'} (${ms(timeline.durationMs)}), ${timeline.steps.length} events across ${timeline.services.join(', ')}.`,
      '',
    );
    push('```mermaid', saga.mermaid.trimEnd(), '```', '');
    push('| position | event | aggregate | event id | caused by |', '|---:|---|---|---|---|');
    for (const event of saga.events) {
      push(
        `| ${event.position} | ${event.type} | ${mdCell(`${event.aggregateType} ${event.aggregateId}`)} | \`${event.id}\` | \`${mdCell(event.causationId)}\` |`,
      );
    }
    push('');
  }

  push('## Latest benchmark', '');
  if (repo.bench.markdown) {
    push('From `bench/results/latest.md` (`npm run bench`; method in `bench/README.md`):', '');
    push(
      repo.bench.markdown
        .replace(/^# .*\n+/, '')
        .replace(/^## /gm, '### ')
        .trimEnd(),
      '',
    );
    if (repo.bench.svg) push(`![saga latency and completed rate against offered rate](${files.benchSvg})`, '');
  } else {
    push('No benchmark recorded (`bench/results/latest.md` is missing): `npm run bench` writes one.', '');
  }

  push('## Fault run', '');
  const faults = repo.faults;
  if (faults) {
    const { options, outcomes, invariants } = faults;
    push(
      `Last run ended ${faults.endedAt}: ${options.sagas} sagas (seed ${options.seed}${options.cluster ? ', 3-node NATS' : ''}) in ${Math.round(faults.durationMs / 1000)} s, ` +
        `outcomes ${Object.entries(outcomes)
          .map(([outcome, n]) => `${mdCell(outcome)} ${n}`)
          .join(', ')}; injected: ${mdCell(JSON.stringify(faults.faults))}.`,
      '',
    );
    push('| invariant | result | detail |', '|---|---|---|');
    for (const invariant of invariants)
      push(`| ${mdCell(invariant.name)} | ${invariant.ok ? 'PASS' : 'FAIL'} | ${mdCell(invariant.detail)} |`);
    push('');
  } else {
    push(
      `No fault run recorded (${mdCell(faultRecordPath())} is missing): the fault suite (\`tests/src/faults.e2e.test.ts\`, in \`npm test\` and \`npm run test:faults\`) writes it.`,
      '',
    );
  }

  push('## Architecture decisions', '');
  push('| ADR | decision |', '|---|---|');
  for (const adr of repo.adrs) push(`| \`docs/adr/${adr.file}\` | ${mdCell(adr.title)} |`);
  push('');
  return `${lines.join('\n')}\n`;
}

const escapeHtml = escapeXml;

function inline(text) {
  return escapeHtml(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, '<a href="$2">$1</a>');
}

function splitRow(line) {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

/** The Markdown this script and the bench write, as HTML: headings, paragraphs, tables, fenced code, images. */
export function markdownToHtml(markdown, { images = {}, blocks = {} } = {}) {
  const out = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('```')) {
      const language = line.slice(3).trim();
      const body = [];
      while (i + 1 < lines.length && !lines[i + 1].startsWith('```')) body.push(lines[++i]);
      i++;
      const source = body.join('\n');
      if (language && blocks[language]) out.push(blocks[language](source));
      out.push(`<pre class="${escapeHtml(language || 'code')}"><code>${escapeHtml(source)}</code></pre>`);
    } else if (/^#{1,6} /.test(line)) {
      const level = /^#+/.exec(line)[0].length;
      const text = line.slice(level + 1);
      const id = text
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '');
      out.push(`<h${level} id="${id}">${inline(text)}</h${level}>`);
    } else if (line.startsWith('|') && lines[i + 1]?.startsWith('|') && /^\|[\s:|-]+\|$/.test(lines[i + 1].trim())) {
      const head = splitRow(line);
      const align = splitRow(lines[++i]).map((cell) => (cell.endsWith(':') ? (cell.startsWith(':') ? 'center' : 'right') : 'left'));
      const rows = [];
      while (i + 1 < lines.length && lines[i + 1].startsWith('|')) rows.push(splitRow(lines[++i]));
      const cell = (tag, text, index) => `<${tag} style="text-align:${align[index] ?? 'left'}">${inline(text)}</${tag}>`;
      out.push(
        `<table><thead><tr>${head.map((text, index) => cell('th', text, index)).join('')}</tr></thead><tbody>${rows
          .map((row) => `<tr>${row.map((text, index) => cell('td', text, index)).join('')}</tr>`)
          .join('')}</tbody></table>`,
      );
    } else if (/^!\[[^\]]*\]\([^)]+\)$/.test(line.trim())) {
      const [, alt, src] = /^!\[([^\]]*)\]\(([^)]+)\)$/.exec(line.trim());
      out.push(images[src] ? `<figure>${images[src]}<figcaption>${escapeHtml(alt)}</figcaption></figure>` : `<p>${escapeHtml(alt)}</p>`);
    } else if (line.trim() === '') {
      continue;
    } else {
      const paragraph = [line];
      while (i + 1 < lines.length && lines[i + 1].trim() !== '' && !/^(#|\||```|!\[)/.test(lines[i + 1])) paragraph.push(lines[++i]);
      out.push(`<p>${inline(paragraph.join(' '))}</p>`);
    }
  }
  return out.join('\n');
}

const CSS = `body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1,h2,h3{line-height:1.2}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}th{background:#f4f4f4}
code{background:#f4f4f4;padding:0 .2em;border-radius:3px;font-size:.9em}
pre{background:#f7f7f7;border:1px solid #ddd;padding:.6em;overflow-x:auto;font-size:.85em}pre code{background:none;padding:0}
figure{margin:1em 0;overflow-x:auto}svg{max-width:100%;height:auto}.diagram{overflow-x:auto;margin:1em 0}`;

export function renderHtml(markdown, repo) {
  const benchSvg = repo.bench.svg ? repo.bench.svg.replace(/^<\?xml[^>]*>\s*/, '') : undefined;
  let diagrams = 0;
  const body = markdownToHtml(markdown, {
    images: benchSvg ? { 'latest.svg': benchSvg } : {},
    blocks: { mermaid: (source) => `<div class="diagram">${sequenceSvg(source, `saga-${++diagrams}`)}</div>` },
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>jetsaga report</title>
<style>${CSS}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------------------------

async function defaultOut() {
  const dir = dataDir();
  const exists = await stat(dir).then(
    (info) => info.isDirectory(),
    () => false,
  );
  return exists ? join(dir, 'report') : resolve('report');
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const out = resolve(options.out ?? (await defaultOut()));
  const data = await collect(options.gateway);
  const repo = await repositoryParts();
  const markdown = renderMarkdown(data, repo);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'report.md'), markdown);
  await writeFile(join(out, 'report.html'), renderHtml(markdown, repo));
  if (repo.bench.svg) await copyFile(repo.bench.svgPath, join(out, 'latest.svg'));
  console.log(
    `report of ${options.gateway}: ${data.sagas.length} sagas drawn (${data.sagas.map((saga) => saga.outcome).join(', ') || 'none'})`,
  );
  console.log(`  ${join(out, 'report.md')}`);
  console.log(`  ${join(out, 'report.html')}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`[report] ${error.message}`);
    process.exit(1);
  });
}
