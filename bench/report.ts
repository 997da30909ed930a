/**
 * Results of a benchmark run: the samples each scenario records, their statistics, the issue-6
 * targets, and the two outputs (`bench/results/latest.json` and the Markdown of
 * `bench/results/latest.md`, which the README's "Performance" section shows).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import type { SystemName } from "./systems/system.js";

export type Unit = "tasks/s" | "ms" | "B" | "MB" | "×" | "tasks";

/** Median, minimum and maximum of the rounds. */
export interface Stats {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

/** One measured quantity: a line of a scenario's table, with the samples of each column. */
export interface Row {
  id: string;
  label: string;
  unit: Unit;
  better: "higher" | "lower";
  samples: Partial<Record<SystemName, number[]>>;
  notes: string[];
}

/** The results of one scenario: its rows, for two columns (`columns[0]` is the ratio's numerator). */
export interface Section {
  /** Position in the report (the numbering). */
  number: number;
  id: string;
  title: string;
  /** How it was measured, one paragraph. */
  method: string;
  columns: [SystemName, SystemName];
  rows: Row[];
  notes: string[];
}

export function stats(values: readonly number[]): Stats | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted.at(-1) ?? 0, rounds: sorted.length };
}

/** Nearest-rank percentile (`p` from 0 to 100) of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** All sections of a run; scenarios add rows and samples as they measure. */
export class Results {
  readonly #sections = new Map<string, Section>();

  /** The section `id`, created on first use. */
  section(number: number, id: string, title: string, columns: [SystemName, SystemName], method: string): SectionRecorder {
    let section = this.#sections.get(id);
    if (!section) {
      section = { number, id, title, method, columns, rows: [], notes: [] };
      this.#sections.set(id, section);
    }
    return new SectionRecorder(section);
  }

  /** Results read back from a JSON report (`renderJson`), to render them again. */
  static fromSections(sections: readonly Section[]): Results {
    const results = new Results();
    for (const section of sections) {
      results.#sections.set(section.id, {
        ...section,
        rows: section.rows.map((row) => ({ id: row.id, label: row.label, unit: row.unit, better: row.better, samples: row.samples, notes: row.notes })),
      });
    }
    return results;
  }

  get sections(): Section[] {
    return [...this.#sections.values()].sort((a, b) => a.number - b.number);
  }

  /** The median of a row's column, if measured. */
  median(sectionId: string, rowId: string, system: SystemName): number | undefined {
    const row = this.#sections.get(sectionId)?.rows.find((r) => r.id === rowId);
    return stats(row?.samples[system] ?? [])?.median;
  }
}

/** Adds rows, samples and notes to one section. */
export class SectionRecorder {
  constructor(readonly section: Section) {}

  /** Declares a row (once; later calls return the same row), so rows keep their declared order. */
  row(id: string, label: string, unit: Unit, better: "higher" | "lower"): Row {
    let row = this.section.rows.find((r) => r.id === id);
    if (!row) {
      row = { id, label, unit, better, samples: {}, notes: [] };
      this.section.rows.push(row);
    }
    return row;
  }

  add(row: Row, system: SystemName, value: number, note?: string): void {
    (row.samples[system] ??= []).push(value);
    if (note !== undefined) row.notes.push(`${system}: ${note}`);
  }

  note(text: string): void {
    if (!this.section.notes.includes(text)) this.section.notes.push(text);
  }
}

/** The machine a run happened on. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  redis: string;
  /** Redis persistence settings (`appendonly`, `save`): how durable BullMQ's acknowledgement is. */
  redisPersistence: string;
  postgres: string;
  bullmq: string;
  os: string;
}

/** CPU model (from /proc/cpuinfo where `os.cpus()` only has the family), cores, RAM, Node; the server versions are asked by the caller. */
export function describeMachine(redis: string, redisPersistence: string, postgres: string): Machine {
  let cpu = cpus()[0]?.model ?? "unknown CPU";
  try {
    const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim();
    if (model) cpu = model;
  } catch {
    // not Linux: keep os.cpus()
  }
  let os = `${process.platform} ${process.arch}`;
  try {
    os = execFileSync("uname", ["-sr"], { encoding: "utf8" }).trim();
  } catch {
    // keep the platform
  }
  const bullmq = (JSON.parse(readFileSync(new URL("../node_modules/bullmq/package.json", import.meta.url), "utf8")) as { version: string }).version;
  return { cpu, cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, redis, redisPersistence, postgres, bullmq, os };
}

/** One issue-6 (or issue-4) target and whether this run met it. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | undefined;
}

/** The targets of issue 6 (and issue 4's order of magnitude), evaluated on the medians. */
export function checkTargets(results: Results): TargetCheck[] {
  const ratio = (section: string, row: string): number | undefined => {
    const a = results.median(section, row, "taskwire");
    const b = results.median(section, row, "bullmq");
    return a === undefined || b === undefined ? undefined : a / b;
  };
  const checks: TargetCheck[] = [];
  const push = (target: string, value: number | undefined, text: (v: number) => string, ok: (v: number) => boolean): void => {
    checks.push({ target, measured: value === undefined ? "not measured" : text(value), met: value === undefined ? undefined : ok(value) });
  };
  const times = (v: number) => `${v.toFixed(2)}×`;
  const c100 = ratio("process", "c100");
  push("processing at concurrency 100 ≥ 1.0× BullMQ", c100, times, (v) => v >= 1);
  push("… stretch: ≥ 1.5× BullMQ", c100, times, (v) => v >= 1.5);
  push("… with Taskwire's worker prefetch (opt-in)", ratio("process", "c100-prefetch"), times, (v) => v >= 1);
  push("processing at concurrency 1 ≥ 1.0× BullMQ", ratio("process", "c1"), times, (v) => v >= 1);
  push("… with Taskwire's worker prefetch (opt-in)", ratio("process", "c1-prefetch"), times, (v) => v >= 1);
  push("bulk submit ≥ 1.0× addBulk", ratio("submit", "bulk"), times, (v) => v >= 1);
  push("pickup p99 (submit → start) ≤ 2× BullMQ's", ratio("latency", "start-p99"), times, (v) => v <= 2);
  push("pickup p50 (submit → start) ≤ 1 ms", results.median("latency", "start-p50", "taskwire"), (v) => `${v.toFixed(2)} ms`, (v) => v <= 1);
  push("Redis bytes per queued task ≤ 0.5× BullMQ's", ratio("memory", "redis-bytes"), times, (v) => v <= 0.5);
  push("throughput at 1M queued ≥ 0.9× at 1k queued", results.median("depth", "deep-over-shallow", "taskwire"), times, (v) => v >= 0.9);
  push("server RSS at 1M queued ≤ 200 MB", results.median("memory", "server-rss", "taskwire"), (v) => `${v.toFixed(0)} MB`, (v) => v <= 200);
  const peer = (system: SystemName): number | undefined => {
    const a = results.median("peers-" + system, "c100", "taskwire");
    const b = results.median("peers-" + system, "c100", system);
    return a === undefined || b === undefined ? undefined : a / b;
  };
  push("issue 16: processing at concurrency 100 ≥ 1.0× graphile-worker", peer("graphile-worker"), times, (v) => v >= 1);
  push("issue 16: processing at concurrency 100 ≥ 1.0× BullMQ on PostgreSQL", peer("bullmq-pg"), times, (v) => v >= 1);
  const embedded = results.median("backends", "process", "embedded");
  const external = results.median("backends", "process", "redis+postgres");
  push(
    "issue 4: embedded within 10× of Redis + PostgreSQL (end to end)",
    embedded === undefined || external === undefined ? undefined : embedded / external,
    times,
    (v) => v >= 0.1,
  );
  return checks;
}

function formatValue(value: number, unit: Unit): string {
  switch (unit) {
    case "tasks/s":
    case "tasks":
    case "B":
      return Math.round(value).toLocaleString("en");
    case "ms":
      return value < 10 ? value.toFixed(2) : value.toFixed(1);
    case "MB":
      return value.toFixed(0);
    case "×":
      return value.toFixed(2);
  }
}

function formatStats(s: Stats | undefined, unit: Unit): string {
  if (!s) return "—";
  if (s.rounds === 1 || s.min === s.max) return formatValue(s.median, unit);
  return `${formatValue(s.median, unit)} (${formatValue(s.min, unit)}–${formatValue(s.max, unit)})`;
}

const COLUMN_TITLES: Record<SystemName, string> = {
  taskwire: "Taskwire",
  bullmq: `BullMQ`,
  embedded: "embedded",
  "redis+postgres": "Redis + PostgreSQL",
  "graphile-worker": "graphile-worker",
  "bullmq-pg": "BullMQ on PostgreSQL",
  "fair-keys": "with keys (fair)",
  fifo: "without keys (FIFO)",
};

/** Everything a report shows besides the sections. */
export interface RunInfo {
  date: string;
  mode: "full" | "quick";
  machine: Machine;
  durationSeconds: number;
  command: string;
}

/** The rows of `section` that hold samples. */
function measured(section: Section): Row[] {
  return section.rows.filter((row) => Object.values(row.samples).some((values) => values.length > 0));
}

/** One table of every row: the scenario, the row, both columns and their ratio. */
function summaryTable(sections: readonly Section[]): string[] {
  const [first] = sections;
  if (!first) return [];
  const [a, b] = first.columns;
  const lines = [`| scenario | measure | ${COLUMN_TITLES[a]} | ${COLUMN_TITLES[b]} | ${COLUMN_TITLES[a]} / ${COLUMN_TITLES[b]} |`, "|---|---|---:|---:|---:|"];
  for (const section of sections) {
    for (const row of measured(section)) {
      const sa = stats(row.samples[a] ?? []);
      const sb = stats(row.samples[b] ?? []);
      const ratio = sa && sb && sb.median !== 0 ? `${(sa.median / sb.median).toFixed(2)}×` : "—";
      lines.push(
        `| ${section.number}. ${section.id} | ${row.label} (${row.unit}, ${row.better === "higher" ? "↑" : "↓"}) | ${formatStats(sa, row.unit)} | ${formatStats(sb, row.unit)} | ${ratio} |`,
      );
    }
  }
  return lines;
}

/**
 * The Markdown report: machine, a summary table (the README's), the targets, then one table
 * per scenario with how it was measured.
 */
export function renderMarkdown(info: RunInfo, results: Results): string {
  const m = info.machine;
  const lines = [
    "# Benchmark results",
    "",
    `Run of ${info.date.slice(0, 10)} (\`${info.command}\`, ${info.mode} mode, ${Math.round(info.durationSeconds / 60)} min). ` +
      `Cells: median of the rounds (min–max); ratio: first column / second column of the medians.`,
    "",
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, ${m.os}; Node ${m.node}; Redis ${m.redis} (${m.redisPersistence ?? "persistence unknown"}); PostgreSQL ${m.postgres}; BullMQ ${m.bullmq}.`,
  ];
  // One summary table per pair of columns, in the order the pairs first appear.
  const pairs = [...new Set(results.sections.map((section) => section.columns.join("|")))];
  for (const pair of pairs) {
    const group = results.sections.filter((section) => section.columns.join("|") === pair);
    if (group.some((section) => measured(section).length > 0)) lines.push("", ...summaryTable(group));
  }
  lines.push("", "↑ higher is better, ↓ lower is better.", "", "### Targets (issue 6; issue 4 for the back ends)", "", "| target | measured | met |", "|---|---:|:---:|");
  for (const check of checkTargets(results)) {
    lines.push(`| ${check.target} | ${check.measured} | ${check.met === undefined ? "—" : check.met ? "yes" : "no"} |`);
  }
  lines.push("", "## Scenarios");
  for (const section of results.sections) {
    const [a, b] = section.columns;
    lines.push("", `### ${section.number}. ${section.title}`, "");
    lines.push(`| | ${COLUMN_TITLES[a]} | ${COLUMN_TITLES[b]} | ${COLUMN_TITLES[a]} / ${COLUMN_TITLES[b]} |`, "|---|---:|---:|---:|");
    for (const row of measured(section)) {
      const sa = stats(row.samples[a] ?? []);
      const sb = stats(row.samples[b] ?? []);
      const ratio = sa && sb && sb.median !== 0 ? `${(sa.median / sb.median).toFixed(2)}×` : "—";
      const arrow = row.better === "higher" ? "↑" : "↓";
      lines.push(`| ${row.label} (${row.unit}, ${arrow}) | ${formatStats(sa, row.unit)} | ${formatStats(sb, row.unit)} | ${ratio} |`);
    }
    const notes = [...section.notes, ...section.rows.flatMap((r) => r.notes.map((n) => `${r.label}: ${n}`))];
    lines.push("", section.method);
    if (notes.length > 0) lines.push("", ...notes.map((n) => `- ${n}`));
  }
  return `${lines.join("\n")}\n`;
}

/** The JSON report: every sample, with its statistics. */
export function renderJson(info: RunInfo, settings: unknown, results: Results): string {
  const sections = results.sections.map((section) => ({
    ...section,
    rows: section.rows.map((row) => ({
      ...row,
      stats: Object.fromEntries(Object.entries(row.samples).map(([system, values]) => [system, stats(values)])),
    })),
  }));
  return `${JSON.stringify({ ...info, settings, sections, targets: checkTargets(results) }, null, 2)}\n`;
}
