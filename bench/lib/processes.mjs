// CPU and memory of the processes under test, read from /proc (Linux): CPU as a share of one core over a window,
// RSS for single processes, PSS summed over a process tree for Postgres (its shared buffers counted once).
import { readdirSync, readFileSync } from 'node:fs';
import { setInterval, clearInterval } from 'node:timers';

const TICKS_PER_SECOND = 100;

function statOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

function kib(pid, file, key) {
  try {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** The process and all its descendants. */
export function treeOf(root) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = statOf(entry);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const pids = [root];
  for (let i = 0; i < pids.length; i++) pids.push(...(children.get(pids[i]) ?? []));
  return pids;
}

/**
 * Samples named process groups every `everyMs`: `targets()` returns `{name: {pids, tree?}}` at each tick (services
 * restart, Postgres backends come and go). `stop()` gives, per name, CPU % of one core over the window and peak memory.
 */
export function sampleProcesses(targets, everyMs = 1000) {
  const startedAt = Date.now();
  const first = new Map();
  const last = new Map();
  const peakKib = new Map();
  const tick = () => {
    for (const [name, target] of Object.entries(targets())) {
      if (!target) continue;
      const pids = target.tree ? treeOf(target.root) : [target.root];
      let memory = 0;
      for (const pid of pids) {
        const stat = statOf(pid);
        if (!stat) continue;
        const key = `${name}/${pid}`;
        if (!first.has(key)) first.set(key, stat.ticks);
        last.set(key, stat.ticks);
        memory += target.tree ? kib(pid, 'smaps_rollup', 'Pss') : kib(pid, 'status', 'VmRSS');
      }
      peakKib.set(name, Math.max(peakKib.get(name) ?? 0, memory));
    }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      tick();
      clearInterval(timer);
      const seconds = (Date.now() - startedAt) / 1000;
      const used = new Map();
      for (const [key, end] of last) {
        const name = key.slice(0, key.lastIndexOf('/'));
        used.set(name, (used.get(name) ?? 0) + (end - (first.get(key) ?? end)));
      }
      const result = {};
      for (const [name, peak] of peakKib) {
        result[name] = {
          cpuPercent: round((((used.get(name) ?? 0) / TICKS_PER_SECOND) * 100) / Math.max(seconds, 0.001), 1),
          peakMemoryMb: round(peak / 1024, 1),
        };
      }
      return result;
    },
  };
}

export function round(value, digits = 0) {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** What the machine is, for the report: core count, CPU model, memory, load before the run. */
export function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const memKib = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
  const [one, five, fifteen] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  return {
    cores: (cpuinfo.match(/^processor\s*:/gm) ?? []).length,
    cpuModel: model,
    memoryGb: round(memKib / 1024 / 1024, 1),
    loadAverage: [one, five, fifteen],
  };
}

export function loadAverage() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}
