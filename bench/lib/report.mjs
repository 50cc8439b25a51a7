// The report beside the JSON: a Markdown table and an SVG chart (saga latency and completed rate vs offered rate).

const fmt = (value, digits = 0) =>
  value === null || value === undefined
    ? '—'
    : typeof value === 'number'
      ? value.toLocaleString('en-US', { maximumFractionDigits: digits })
      : String(value);

const SERVICES = ['gateway', 'order', 'inventory', 'payment', 'sales', 'event-store', 'nats-server', 'postgres', 'k6'];

/** The ramp's steps, then the overload steps (reports written before those existed have none), by offered rate. */
function allSteps(pass) {
  return [...pass.steps, ...(pass.overloadSteps ?? [])];
}

const byOffered = (steps) => [...steps].sort((a, b) => a.offeredPerSecond - b.offeredPerSecond);

function passTitle(pass) {
  return pass.syncAlways ? 'nats-server `sync_interval: always` (default)' : 'nats-server default `sync_interval` (2 min)';
}

export function markdown(report) {
  const lines = [];
  const m = report.machine;
  lines.push(`# jetsaga benchmark${report.quick ? ' (quick)' : ''}`, '');
  lines.push(
    `${report.generatedAt.slice(0, 16).replace('T', ' ')} UTC on ${m.cores} cores (${m.cpuModel}), ${m.memoryGb} GB, Node ${m.node}, ` +
      `nats-server ${m.natsServer}; load average ${m.loadAverage.join(' / ')} before, ${m.loadAverageAfter.join(' / ')} after ` +
      `(other work on the machine shows here). Everything co-located: six services, nats-server, Postgres and k6 on the same cores. ` +
      `Tracing ${report.options.tracing}, log level ${report.options.logLevel}; ${report.options.customers} customers, ` +
      `${report.options.products} products; ${report.options.stepSeconds} s per step; run took ${fmt(report.durationSeconds)} s` +
      (report.code ? `; code at ${report.code.commit}${report.code.changed ? ' with uncommitted changes' : ''}.` : '.'),
    '',
  );
  lines.push(
    'One shopper = `POST /api/carts`, `POST /api/carts/:id/items`, `POST /api/carts/:id/checkout`, started open loop by k6 ' +
      '(constant-arrival-rate). Saga latency = OrderPlaced `occurredAt` (the checkout) to the JetStream timestamp of ' +
      'OrderCompleted/OrderCancelled, read from the stream by an ordered consumer. Sustained = at least 95% of the offered ' +
      'sagas completed within the step, none left unfinished, under 1% of shoppers failed (an HTTP error) or dropped ' +
      '(k6 had no free virtual user to start them: the system was too slow to keep up).',
    '',
  );
  for (const pass of report.passes) {
    lines.push(`## Sagas, ${passTitle(pass)}`, '');
    lines.push(
      '| offered/s | completed/s | events/s | saga p50 ms | p95 ms | p99 ms | max ms | unfinished | failed / dropped shoppers | rejected (429) | checkout HTTP p99 ms | sustained |',
    );
    lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--:|');
    for (const step of allSteps(pass)) {
      const offered = step.overloadMultiple
        ? `${fmt(step.offeredPerSecond)} (${fmt(step.overloadMultiple, 1)}x peak)`
        : fmt(step.offeredPerSecond);
      lines.push(
        `| ${offered} | ${fmt(step.completedPerSecond, 1)} | ${fmt(step.eventsPerSecond)} | ${fmt(step.latencyMs.p50, 1)} | ` +
          `${fmt(step.latencyMs.p95, 1)} | ${fmt(step.latencyMs.p99, 1)} | ${fmt(step.latencyMs.max, 1)} | ${fmt(step.unfinished)} | ` +
          `${fmt(step.errors)} / ${fmt(step.droppedIterations)} | ${fmt(step.rejected)} | ${fmt(step.httpMs.checkout?.p99, 1)} | ${step.withinObjective ? 'yes, p99 in objective' : step.sustained ? 'yes' : 'no'} |`,
      );
    }
    const s = pass.summary;
    lines.push(
      '',
      `Highest sustained rate: **${fmt(s.highestSustainedRate)}/s**; highest with p99 <= ${s.objectiveP99Ms} ms: **${fmt(s.highestRateWithinObjective)}/s**; ` +
        `peak completed ${fmt(s.peakCompletedPerSecond, 1)} sagas/s, ${fmt(s.peakEventsPerSecond)} events/s stored.`,
      '',
    );
    if (s.overload?.length) {
      lines.push(
        `Past saturation (steps at multiples of the peak completed rate, after the ramp; a rejected shopper got a 429 from the ` +
          `gateway's admission control and changed nothing). Bounded = saga p99 at most twice the peak step's (or the objective), ` +
          'every saga ended within the drain, no service above 150 MB RSS or 1.2x its RSS in the peak step, whichever is larger:',
        '',
        '| multiple | offered/s | completed/s | vs peak | rejected/s | failed | unfinished | saga p99 ms | max service RSS MB | bounded |',
        '|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--:|',
      );
      for (const o of s.overload) {
        lines.push(
          `| ${fmt(o.multiple, 1)}x | ${fmt(o.offeredPerSecond)} | ${fmt(o.completedPerSecond, 1)} | ${fmt(o.completedVsPeak, 2)} | ${fmt(o.rejectedPerSecond, 1)} | ` +
            `${fmt(o.errors)} | ${fmt(o.unfinished)} | ${fmt(o.p99, 1)} | ${fmt(o.maxRssMb)} | ${o.bounded ? 'yes' : 'no'} |`,
        );
      }
      lines.push('');
    }
    lines.push(
      'CPU (% of one core), CPU ms per completed saga, and peak memory (MB; RSS, PSS summed for Postgres) per process and step; ' +
        '"services" is the six services\' CPU ms per saga together:',
      '',
    );
    lines.push(`| offered/s | ${SERVICES.join(' | ')} | services |`);
    lines.push(`|---:|${SERVICES.map(() => '---:').join('|')}|---:|`);
    for (const step of allSteps(pass)) {
      const cells = SERVICES.map((name) => {
        const p = step.processes[name];
        return p ? `${fmt(p.cpuPercent)}% ${fmt(p.cpuMsPerSaga, 1)} ms ${fmt(p.peakMemoryMb)} MB` : '—';
      });
      lines.push(`| ${fmt(step.offeredPerSecond)} | ${cells.join(' | ')} | ${fmt(step.serviceCpuMsPerSaga, 1)} ms |`);
    }
    lines.push('');
    if (allSteps(pass).some((step) => step.database)) {
      lines.push(
        'Postgres work per completed saga (pg_stat_statements): statements, their execution time, commits, and the most frequent statements:',
        '',
      );
      lines.push('| offered/s | statements | execution ms | commits | most frequent (per saga) |', '|---:|---:|---:|---:|---|');
      for (const step of allSteps(pass)) {
        if (!step.database) continue;
        const top = step.database.topStatements
          .slice(0, 5)
          .map((entry) => `${fmt(entry.perSaga, 1)}x \`${entry.statement.slice(0, 60).replace(/\|/g, '\\|')}\``)
          .join('; ');
        lines.push(
          `| ${fmt(step.offeredPerSecond)} | ${fmt(step.database.statementsPerSaga, 1)} | ${fmt(step.database.executionMsPerSaga, 2)} | ${fmt(step.database.commitsPerSaga, 1)} | ${top} |`,
        );
      }
      lines.push('');
    }
    if (pass.raw) {
      lines.push(`Raw limits on the same servers (${pass.raw.messageBytes}-byte messages, the events' average size):`, '');
      lines.push('| measure | rate/s |', '|---|---:|');
      lines.push(`| JetStream async publish, natscli \`nats bench\` | ${fmt(pass.raw.natscli.publishPerSecond)} |`);
      lines.push(`| JetStream ordered consume, natscli | ${fmt(pass.raw.natscli.consumePerSecond)} |`);
      lines.push(
        `| JetStream async publish, Node client (${pass.raw.nodeClient.window} in flight) | ${fmt(pass.raw.nodeClient.publishPerSecond)} |`,
      );
      lines.push(`| JetStream ordered consume, Node client | ${fmt(pass.raw.nodeClient.consumePerSecond)} |`);
      if (pass.raw.postgresInsert) {
        lines.push(
          `| Postgres batched insert (mirror's statement, ${pass.raw.postgresInsert.batch} rows per transaction) | ${fmt(pass.raw.postgresInsert.rowsPerSecond)} |`,
        );
      }
      if (pass.mirrorCatchUp)
        lines.push(
          `| mirror catch-up (${fmt(pass.mirrorCatchUp.events)} events into an empty mirror) | ${fmt(pass.mirrorCatchUp.perSecond)} |`,
        );
      for (const rebuild of pass.projectionRebuilds ?? [])
        lines.push(`| projection rebuild \`${rebuild.name}\` (${fmt(rebuild.events)} events) | ${fmt(rebuild.perSecond)} |`);
      lines.push('');
      const r = s.ratios;
      lines.push(
        `Ratios: saga events/s vs raw JetStream publish ${fmt(r.sagaEventsVsRawPublish, 4)}` +
          (r.mirrorRowsVsRawInsert !== null ? `; mirror rows/s vs raw insert rows/s ${fmt(r.mirrorRowsVsRawInsert, 3)}` : '') +
          '.',
        '',
      );
    }
  }
  if (report.durability) {
    const d = report.durability;
    lines.push('## Cost of durability (`sync_interval: always` / default)', '');
    lines.push(
      `Raw publish (natscli): ${fmt(d.rawPublishSyncAlwaysVsDefault, 3)}x; raw publish (Node client): ${fmt(d.nodePublishSyncAlwaysVsDefault, 3)}x; ` +
        `peak completed sagas/s: ${fmt(d.peakSagasSyncAlwaysVsDefault, 3)}x.`,
      '',
    );
  }
  lines.push('## Objectives (sync_interval always)', '', '| objective | target | measured | met | detail |', '|---|---|---|:--:|---|');
  for (const o of report.objectives) {
    lines.push(`| ${o.name} | ${o.objective} | ${fmt(o.measured, 3)} | ${o.met ? 'yes' : 'no'} | ${o.detail ?? ''} |`);
  }
  lines.push('');
  if (report.peers?.length) lines.push(...peerSection(report));
  const profile = report.passes[0]?.profile;
  if (profile) {
    lines.push('## CPU profile (self time, sync_interval always pass)', '');
    for (const [name, summary] of Object.entries(profile)) {
      lines.push(`### ${name} (${summary.busySeconds} s busy of ${summary.wallSeconds} s)`, '');
      lines.push('| function | self ms | % |', '|---|---:|---:|');
      for (const entry of summary.functions.slice(0, 10)) lines.push(`| \`${entry.name}\` | ${fmt(entry.ms)} | ${fmt(entry.percent, 1)} |`);
      lines.push(
        '',
        `By package: ${summary.packages
          .slice(0, 8)
          .map((entry) => `${entry.name} ${fmt(entry.percent, 1)}%`)
          .join(', ')}`,
        '',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

const escape = (text) => String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Log-scale axis over [min, max] onto [from, to] pixels. */
function logScale(min, max, from, to) {
  const lo = Math.log10(min);
  const hi = Math.log10(max);
  return (value) => from + ((Math.log10(Math.max(value, min)) - lo) / Math.max(hi - lo, 1e-9)) * (to - from);
}

function ticks(min, max) {
  const out = [];
  for (let decade = 10 ** Math.floor(Math.log10(min)); decade <= max; decade *= 10) {
    for (const m of [1, 2, 5]) if (decade * m >= min && decade * m <= max) out.push(decade * m);
  }
  return out;
}

function panel({ x0, y0, width, height, title, xLabel, yLabel, xs, ys, series, guides }) {
  const x = logScale(xs[0], xs[1], x0, x0 + width);
  const y = logScale(ys[0], ys[1], y0 + height, y0);
  const parts = [`<text x="${x0 + width / 2}" y="${y0 - 12}" text-anchor="middle" font-weight="bold">${escape(title)}</text>`];
  parts.push(`<rect x="${x0}" y="${y0}" width="${width}" height="${height}" fill="none" stroke="#999"/>`);
  for (const t of ticks(xs[0], xs[1])) {
    parts.push(`<line x1="${x(t)}" y1="${y0}" x2="${x(t)}" y2="${y0 + height}" stroke="#eee"/>`);
    parts.push(`<text x="${x(t)}" y="${y0 + height + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const t of ticks(ys[0], ys[1])) {
    parts.push(`<line x1="${x0}" y1="${y(t)}" x2="${x0 + width}" y2="${y(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${x0 - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`);
  }
  parts.push(`<text x="${x0 + width / 2}" y="${y0 + height + 36}" text-anchor="middle">${escape(xLabel)}</text>`);
  parts.push(`<text transform="translate(${x0 - 48} ${y0 + height / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`);
  for (const guide of guides) {
    const points = guide.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="#c00" stroke-dasharray="2 4"/>`);
    const labelY = guide.labelAtBottom ? y0 + height - 8 : y(guide.points[1][1]) - 4;
    parts.push(`<text x="${x0 + width - 4}" y="${labelY}" text-anchor="end" fill="#c00">${escape(guide.label)}</text>`);
  }
  for (const s of series) {
    const points = s.points.filter(([, py]) => py !== null && py > 0);
    if (points.length === 0) continue;
    parts.push(
      `<polyline points="${points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    for (const [px, py] of points) parts.push(`<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="3" fill="${s.color}"/>`);
  }
  return parts.join('\n');
}

export function svg(report) {
  const width = 980;
  const height = 450;
  const peers = (report.peers ?? []).filter((peer) => !peer.error && peer.steps.length > 0);
  const steps = [...report.passes.flatMap(allSteps), ...peers.flatMap((peer) => peer.steps)];
  const rates = steps.map((step) => step.offeredPerSecond);
  const xs = [Math.min(...rates) / 1.3, Math.max(...rates) * 1.3];
  const latencies = steps.flatMap((step) => [step.latencyMs.p50, step.latencyMs.p99]).filter((value) => value > 0);
  const ys = [
    Math.max(1, Math.min(...latencies, report.options.objectiveMs) / 1.5),
    Math.max(...latencies, report.options.objectiveMs) * 1.5,
  ];
  const completed = steps.map((step) => step.completedPerSecond).filter((value) => value > 0);
  const cs = [Math.max(0.5, Math.min(...completed, ...rates) / 1.5), Math.max(...completed, ...rates) * 1.3];
  const colors = { true: ['#1f77b4', '#ff7f0e'], false: ['#6baed6', '#fdae6b'] };
  const latencySeries = report.passes.flatMap((pass) => {
    const [c50, c99] = colors[pass.syncAlways];
    const tag = pass.syncAlways ? 'sync always' : 'sync default';
    return [
      {
        label: `p50, ${tag}`,
        color: c50,
        dashed: !pass.syncAlways,
        points: byOffered(allSteps(pass)).map((s) => [s.offeredPerSecond, s.latencyMs.p50]),
      },
      {
        label: `p99, ${tag}`,
        color: c99,
        dashed: !pass.syncAlways,
        points: byOffered(allSteps(pass)).map((s) => [s.offeredPerSecond, s.latencyMs.p99]),
      },
    ];
  });
  const rateSeries = report.passes.map((pass) => ({
    label: `completed, ${pass.syncAlways ? 'sync always' : 'sync default'}`,
    color: colors[pass.syncAlways][0],
    dashed: !pass.syncAlways,
    points: byOffered(allSteps(pass)).map((s) => [s.offeredPerSecond, s.completedPerSecond]),
  }));
  // The peers: their p99 beside jetsaga's latencies, their completed rate beside jetsaga's (one colour each).
  const peerColors = { dbos: '#2ca02c', temporal: '#9467bd' };
  const peerSeries = peers.map((peer) => ({
    label: `p99 and completed, ${ENGINE[peer.name] ?? peer.name}`,
    color: peerColors[peer.name] ?? '#555',
    latency: peer.steps.map((s) => [s.offeredPerSecond, s.latencyMs.p99]),
    rate: peer.steps.map((s) => [s.offeredPerSecond, s.completedPerSecond]),
  }));
  latencySeries.push(...peerSeries.map((s) => ({ color: s.color, points: s.latency })));
  rateSeries.push(...peerSeries.map((s) => ({ color: s.color, points: s.rate })));
  const m = report.machine;
  const body = [
    panel({
      x0: 80,
      y0: 50,
      width: 360,
      height: 280,
      title: 'Saga latency vs offered rate',
      xLabel: 'offered shoppers/s (log)',
      yLabel: 'ms (log)',
      xs,
      ys,
      series: latencySeries,
      guides: [
        {
          label: `objective ${report.options.objectiveMs} ms`,
          points: [
            [xs[0], report.options.objectiveMs],
            [xs[1], report.options.objectiveMs],
          ],
        },
      ],
    }),
    panel({
      x0: 580,
      y0: 50,
      width: 360,
      height: 280,
      title: 'Completed sagas/s vs offered',
      xLabel: 'offered shoppers/s (log)',
      yLabel: 'completed sagas/s (log)',
      xs,
      ys: cs,
      series: rateSeries,
      guides: [
        {
          label: 'dotted: completed = offered',
          labelAtBottom: true,
          points: [
            [xs[0], xs[0]],
            [xs[1], xs[1]],
          ],
        },
      ],
    }),
  ];
  const legendEntry = (s, i, y) =>
    `<line x1="${80 + i * 200}" y1="${y - 4}" x2="${110 + i * 200}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>` +
    `<text x="${116 + i * 200}" y="${y}">${escape(s.label)}</text>`;
  const legend = [
    ...latencySeries.filter((s) => s.label).map((s, i) => legendEntry(s, i, height - 56)),
    ...peerSeries.map((s, i) => legendEntry(s, i, height - 36)),
  ];
  const caption = `${report.generatedAt.slice(0, 10)}, ${m.cores} cores ${m.cpuModel}, load ${m.loadAverage[0]} before; dashed = nats-server default sync_interval`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...body,
    ...legend,
    `<text x="80" y="${height - 12}" fill="#555">${escape(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

const OUTSIDE = ['k6', 'bench driver'];
const ENGINE = { dbos: 'DBOS Transact', temporal: 'Temporal' };

/** The step a system is summed up by: its highest sustained one, else its first. */
function headline(steps, summary) {
  return steps.find((step) => step.offeredPerSecond === summary.highestSustainedRate) ?? steps[0];
}

function byProcess(step, figure, digits) {
  if (!step) return '—';
  return Object.entries(step.processes)
    .filter(([name]) => !OUTSIDE.includes(name))
    .map(([name, p]) => `${name} ${fmt(p[figure], digits)}`)
    .join(', ');
}

const totalRss = (step) =>
  step
    ? Object.entries(step.processes)
        .filter(([name]) => !OUTSIDE.includes(name))
        .reduce((sum, [, p]) => sum + p.peakMemoryMb, 0)
    : null;

function peerSection(report) {
  const lines = [];
  const jetsaga = report.passes[0];
  lines.push('## Peers: the same saga on DBOS Transact and on Temporal', '');
  lines.push(
    "After jetsaga's passes, each peer runs on servers of its own (a fresh embedded Postgres with the same durable settings; " +
      "for Temporal also the CLI's development server) under the same k6 load through the same HTTP shape, and does the same " +
      'business work on Postgres tables (reserve all lines or none, charge in integer cents, record the sale, commit the stock; ' +
      "release on a refused payment). Saga latency = the checkout's instant to the instant the order's outcome was written. " +
      'CPU ms per saga of the whole system = every process but k6 and the bench driver. What each peer does not do that jetsaga ' +
      'does: bench/README.md.',
    '',
  );
  lines.push(
    '| system | highest sustained rate | saga p99 there | CPU ms per saga there, whole system (by process) | peak RSS MB, total (by process) | invariant checks |',
    '|---|---:|---:|---|---|---|',
  );
  const js = headline(jetsaga.steps, jetsaga.summary);
  lines.push(
    `| jetsaga | ${fmt(jetsaga.summary.highestSustainedRate)}/s | ${fmt(js?.latencyMs.p99, 1)} ms | ${fmt(js?.systemCpuMsPerSaga, 1)} (${byProcess(js, 'cpuMsPerSaga', 1)}) | ` +
      `${fmt(totalRss(js))} (${byProcess(js, 'peakMemoryMb', 0)}) | in the test suites |`,
  );
  for (const peer of report.peers) {
    if (peer.error) {
      lines.push(
        `| ${ENGINE[peer.name] ?? peer.name} | failed: ${fmt(peer.error.split('\n')[0].slice(0, 120).replace(/\|/g, '\\|'))} | | | | |`,
      );
      continue;
    }
    const step = headline(peer.steps, peer.summary);
    const checks = peer.checks.passed
      ? 'passed'
      : `FAILED: ${Object.entries(peer.checks)
          .filter(([, value]) => value === false)
          .map(([name]) => name)
          .join(', ')}`;
    lines.push(
      `| ${ENGINE[peer.name]} ${peer.engine.version} | ${fmt(peer.summary.highestSustainedRate)}/s | ${fmt(step?.latencyMs.p99, 1)} ms | ` +
        `${fmt(step?.systemCpuMsPerSaga, 1)} (${byProcess(step, 'cpuMsPerSaga', 1)}) | ${fmt(totalRss(step))} (${byProcess(step, 'peakMemoryMb', 0)}) | ${checks} |`,
    );
  }
  lines.push('');
  for (const peer of report.peers) {
    if (peer.error || !peer.ratios) continue;
    const r = peer.ratios;
    lines.push(
      `jetsaga / ${ENGINE[peer.name]}: highest sustained rate ${fmt(r.sustainedRateJetsagaVsPeer, 3)}x; CPU ms per saga ${fmt(r.cpuMsPerSagaJetsagaVsPeer, 3)}x ` +
        `(${fmt(r.jetsagaCpuMsPerSaga, 1)} against ${fmt(r.peerCpuMsPerSaga, 1)} ms, both at ${fmt(r.cpuComparedAtOfferedPerSecond)}/s offered` +
        `${r.cpuComparedAtSustainedRate ? ', the highest rate both sustained' : ', not sustained by both'}).`,
      '',
    );
  }
  for (const peer of report.peers) {
    if (peer.error) {
      lines.push(`### ${ENGINE[peer.name] ?? peer.name}: failed`, '', '```', peer.error.slice(0, 3000), '```', '');
      continue;
    }
    lines.push(
      `### ${ENGINE[peer.name]} (${peer.engine.package} ${peer.engine.version}${peer.engine.server ? `, ${peer.engine.server}` : ''})`,
      '',
    );
    lines.push(
      '| offered/s | completed/s | saga p50 ms | p95 ms | p99 ms | max ms | unfinished | failed / dropped shoppers | checkout HTTP p99 ms | sustained |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--:|',
    );
    for (const step of peer.steps) {
      lines.push(
        `| ${fmt(step.offeredPerSecond)} | ${fmt(step.completedPerSecond, 1)} | ${fmt(step.latencyMs.p50, 1)} | ${fmt(step.latencyMs.p95, 1)} | ` +
          `${fmt(step.latencyMs.p99, 1)} | ${fmt(step.latencyMs.max, 1)} | ${fmt(step.unfinished)} | ${fmt(step.errors)} / ${fmt(step.droppedIterations)} | ` +
          `${fmt(step.httpMs.checkout?.p99, 1)} | ${step.withinObjective ? 'yes, p99 in objective' : step.sustained ? 'yes' : 'no'} |`,
      );
    }
    const names = [...peer.processes, 'k6'];
    lines.push('', `CPU (% of one core), CPU ms per completed saga and peak memory (MB) per process and step:`, '');
    lines.push(`| offered/s | ${names.join(' | ')} | whole system |`, `|---:|${names.map(() => '---:').join('|')}|---:|`);
    for (const step of peer.steps) {
      const cells = names.map((name) => {
        const p = step.processes[name];
        return p ? `${fmt(p.cpuPercent)}% ${fmt(p.cpuMsPerSaga, 1)} ms ${fmt(p.peakMemoryMb)} MB` : '—';
      });
      lines.push(`| ${fmt(step.offeredPerSecond)} | ${cells.join(' | ')} | ${fmt(step.systemCpuMsPerSaga, 1)} ms |`);
    }
    lines.push('');
    if (peer.steps.some((step) => step.database)) {
      lines.push("Postgres work per completed saga (pg_stat_statements, every database of the peer's Postgres):", '');
      lines.push('| offered/s | statements | execution ms | commits | most frequent (per saga) |', '|---:|---:|---:|---:|---|');
      for (const step of peer.steps) {
        if (!step.database) continue;
        const top = step.database.topStatements
          .slice(0, 5)
          .map((entry) => `${fmt(entry.perSaga, 1)}x \`${entry.statement.slice(0, 70).replace(/\|/g, '\\|')}\``)
          .join('; ');
        lines.push(
          `| ${fmt(step.offeredPerSecond)} | ${fmt(step.database.statementsPerSaga, 1)} | ${fmt(step.database.executionMsPerSaga, 2)} | ${fmt(step.database.commitsPerSaga, 1)} | ${top} |`,
        );
      }
      lines.push('');
    }
    const c = peer.checks;
    const probes = Object.entries(c.probes)
      .map(([reason, probe]) => `${probe.asExpected}/${probe.sent} ${reason}`)
      .join(', ');
    lines.push(
      `Checks after the run (${c.passed ? 'all passed' : 'FAILED'}): ${fmt(c.orders.total)} orders, ${fmt(c.orders.completed)} completed, ` +
        `${fmt(c.orders.outOfStock)} out of stock, ${fmt(c.orders.paymentRefused)} payment refused, ${fmt(c.orders.pending)} not ended ` +
        `(every order terminal: ${c.everyOrderTerminal ? 'yes' : 'no'}); stock conserved: ${c.stockConserved ? 'yes' : 'no'} ` +
        `(${fmt(c.stock.initial)} units = ${fmt(c.stock.onShelf)} on the shelf + ${fmt(c.stock.committed)} sold, ${fmt(c.stock.reserved)} still reserved); ` +
        `money conserved: ${c.moneyConserved ? 'yes' : 'no'} (${fmt(c.money.debited)} cents debited = ${fmt(c.money.accepted)} accepted = ` +
        `${fmt(c.money.sales)} in sales = ${fmt(c.money.completedOrders)} in completed orders); every outcome backed by exactly its effects: ` +
        `${c.outcomesBackedByEffects ? 'yes' : 'no'}; compensation probes: ${probes}.`,
      '',
    );
  }
  return lines;
}
