/**
 * Runs the scenarios: settings of the two modes, the worker processes and fresh systems each
 * scenario gets, the order of the systems in each round, and progress lines on stderr.
 */
import { WorkerHost } from "./processes.js";
import type { Results } from "./report.js";
import { BullmqSystem } from "./systems/bullmq.js";
import type { QueueSystem } from "./systems/system.js";
import { TaskwireSystem, type ExternalStores } from "./systems/taskwire.js";

/**
 * Sizes of a run. The full mode takes 20–30 minutes on a 2-core machine; `--quick` about one.
 * The time caps keep a slow configuration (Taskwire at concurrency 1 today) from taking the
 * whole budget: its figure then covers the tasks finished within the cap, as the report says.
 */
export interface Settings {
  mode: "full" | "quick";
  stores: ExternalStores;
  /** Rounds of scenarios 1, 2, 3 and 6. */
  rounds: number;
  submit: { tasks: number; batch: number };
  process: {
    tasks: number;
    concurrencies: number[];
    /** A run stops after this long even if tasks are left; its throughput is then over what finished. */
    capMs: number;
    /** Untimed tasks processed first in each round, so neither side is measured cold. */
    warmup: number;
  };
  latency: { submissions: number; warmup: number };
  depth: {
    shallow: number;
    deep: number;
    /** Completions measured per round, with at least `shallow` or `deep` tasks still queued behind them. */
    window: number;
    rounds: number;
    capMs: number;
  };
  backends: { tasks: number; concurrency: number; capMs: number };
  /** Scenario 7: key A's tasks, then key B's, processed at `concurrency`. */
  fairness: { tasksA: number; tasksB: number; concurrency: number; capMs: number };
  /** Batches in flight while queues are filled outside a measurement. */
  fillLanes: number;
}

export function settingsFor(mode: "full" | "quick", stores: ExternalStores, rounds?: number): Settings {
  const quick = mode === "quick";
  return {
    mode,
    stores,
    rounds: rounds ?? (quick ? 1 : 3),
    submit: { tasks: quick ? 5_000 : 50_000, batch: 1_000 },
    process: { tasks: quick ? 1_000 : 50_000, concurrencies: [1, 10, 100], capMs: quick ? 1_000 : 15_000, warmup: quick ? 300 : 2_000 },
    latency: { submissions: quick ? 100 : 2_000, warmup: quick ? 10 : 50 },
    depth: { shallow: 1_000, deep: quick ? 100_000 : 1_000_000, window: quick ? 1_000 : 5_000, rounds: rounds ?? (quick ? 1 : 3), capMs: 60_000 },
    backends: { tasks: quick ? 1_000 : 20_000, concurrency: 100, capMs: quick ? 5_000 : 60_000 },
    fairness: { tasksA: quick ? 2_000 : 100_000, tasksB: 10, concurrency: 10, capMs: quick ? 30_000 : 300_000 },
    fillLanes: 4,
  };
}

/** What a scenario gets from the runner. */
export interface ScenarioContext {
  settings: Settings;
  results: Results;
  /** The systems of scenarios 1–3; see {@link SystemPool}. */
  systems: SystemPool;
  /** A progress line on stderr. */
  log(line: string): void;
  /** Aborted on the first SIGINT/SIGTERM; scenarios stop between steps and clean up. */
  signal: AbortSignal;
}

export interface Scenario {
  id: string;
  run(ctx: ScenarioContext): Promise<void>;
}

/** The two worker processes. */
export interface Hosts {
  taskwire: WorkerHost;
  bullmq: WorkerHost;
}

/** Runs `body` with a new Taskwire and a new BullMQ worker process, ended afterwards. */
export async function withHosts<T>(body: (hosts: Hosts) => Promise<T>): Promise<T> {
  const hosts = { taskwire: WorkerHost.start("taskwire"), bullmq: WorkerHost.start("bullmq") };
  try {
    return await body(hosts);
  } finally {
    await Promise.all([hosts.taskwire.close(), hosts.bullmq.close()]);
  }
}

/** Both systems on fresh state (new schema, prefixes), with the given worker processes. */
export async function createSystems(settings: Settings, hosts: Hosts): Promise<[TaskwireSystem, BullmqSystem]> {
  const bullmq = new BullmqSystem(settings.stores.redisUrl, hosts.bullmq);
  try {
    return [await TaskwireSystem.create({ backend: "redis+postgres", stores: settings.stores, host: hosts.taskwire }), bullmq];
  } catch (error) {
    await bullmq.close();
    throw error;
  }
}

/**
 * The systems of scenarios 1–3. Their worker processes are started once per run. In the full
 * mode every {@link use} gets both systems on fresh state (a new server, schema and prefixes),
 * cleaned up afterwards; in quick mode, where starting servers would take much of the minute,
 * the three scenarios share one state (each on its own queues), cleaned up by {@link close}.
 */
export class SystemPool {
  #hosts: Hosts | undefined;
  #shared: Promise<[TaskwireSystem, BullmqSystem]> | undefined;

  constructor(private readonly settings: Settings) {}

  async use<T>(body: (taskwire: TaskwireSystem, bullmq: BullmqSystem) => Promise<T>): Promise<T> {
    this.#hosts ??= { taskwire: WorkerHost.start("taskwire"), bullmq: WorkerHost.start("bullmq") };
    if (this.settings.mode === "quick") {
      this.#shared ??= createSystems(this.settings, this.#hosts);
      return body(...(await this.#shared));
    }
    const [taskwire, bullmq] = await createSystems(this.settings, this.#hosts);
    try {
      return await body(taskwire, bullmq);
    } finally {
      await Promise.all([taskwire.close(), bullmq.close()]);
    }
  }

  /** Cleans up the shared state and ends the worker processes. Safe to call twice. */
  async close(): Promise<void> {
    const shared = this.#shared;
    const hosts = this.#hosts;
    this.#shared = undefined;
    this.#hosts = undefined;
    try {
      if (shared) await Promise.all((await shared).map((system) => system.close()));
    } finally {
      if (hosts) await Promise.all([hosts.taskwire.close(), hosts.bullmq.close()]);
    }
  }
}

/**
 * The order of two systems in `round`: alternating, so that neither always runs first (on a
 * warmer or colder machine).
 */
export function inOrder<T>(round: number, first: T, second: T): [T, T] {
  return round % 2 === 0 ? [first, second] : [second, first];
}

/** Both systems of a comparison, in the round's order. */
export function systemsInOrder(round: number, taskwire: QueueSystem, bullmq: QueueSystem): QueueSystem[] {
  return inOrder(round, taskwire, bullmq);
}

/** How scenarios 1–3 get their state, for their method paragraphs. */
export function stateNote(settings: Settings): string {
  return settings.mode === "quick"
    ? "Quick mode: scenarios 1–3 share one state (each on its own queues)."
    : "Each round on fresh state (new server, schema and prefixes).";
}

/** `12,345/s` for progress lines. */
export function perSecond(value: number): string {
  return `${Math.round(value).toLocaleString("en")}/s`;
}
