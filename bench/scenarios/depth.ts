/**
 * Scenario 4, depth: does a deep backlog slow processing down? Throughput over a window of W
 * completions (worker concurrency 100) while at least D tasks stay queued behind them, for
 * D = 1,000 and D = 1,000,000 (100,000 in quick mode). Before each window the queue is topped up
 * to D + W queued; the window is read from the recorded finish times, as in scenario 2.
 *
 * Filling a million tasks is the expensive part, so both depths are measured on one state per
 * system (the deep queue is filled once, its rounds follow one another) and the memory figures
 * of scenario 5 are taken from the full queue (see `memory.ts`).
 */
import { memorySection } from "./memory.js";
import { fill, processQueued, type QueueSystem } from "../systems/system.js";
import { createSystems, perSecond, systemsInOrder, withHosts, type Scenario, type ScenarioContext } from "../runner.js";

const CONCURRENCY = 100;

export const depthScenario: Scenario = {
  id: "depth",
  async run(ctx) {
    const { shallow, deep, window, rounds, capMs } = ctx.settings.depth;
    const deepLabel = deep >= 1_000_000 ? `${deep / 1_000_000}M` : `${deep / 1000}k`;
    const section = ctx.results.section(
      4,
      "depth",
      "Depth",
      ["taskwire", "bullmq"],
      `Throughput (worker concurrency ${CONCURRENCY}) over windows of ${window.toLocaleString("en")} completions with at least ${shallow.toLocaleString("en")} ` +
        `or ${deep.toLocaleString("en")} tasks queued behind them; the queue is topped up to depth + window before each window. ` +
        `${rounds} round(s) per depth on one state per system: the ${deepLabel} queue is filled once (${ctx.settings.fillLanes} batches of 1,000 in flight) ` +
        "and its windows follow one another.",
    );
    const rows = {
      shallow: section.row("shallow", `throughput, ${shallow.toLocaleString("en")} queued`, "tasks/s", "higher"),
      deep: section.row("deep", `throughput, ${deepLabel} queued`, "tasks/s", "higher"),
      ratio: section.row("deep-over-shallow", `${deepLabel} queued / ${shallow.toLocaleString("en")} queued, per round`, "×", "higher"),
      fill: section.row("fill", `filling the ${deepLabel} queue (${ctx.settings.fillLanes} batches in flight)`, "tasks/s", "higher"),
    };
    const memory = memorySection(ctx);
    await withHosts(async (hosts) => {
      // Worker processes and state of its own: the worker RSS is read from processes that did nothing else.
      const [taskwire, bullmq] = await createSystems(ctx.settings, hosts);
      try {
        const queues = new QueueBook();
        const shallowRates = new Map<QueueSystem, number[]>();
        for (let round = 0; round < rounds; round++) {
          for (const system of systemsInOrder(round, taskwire, bullmq)) {
            ctx.signal.throwIfAborted();
            await queues.topUp(system, "shallow", shallow + window, ctx);
            const run = await processQueued(system, "shallow", window, CONCURRENCY, capMs);
            section.add(rows.shallow, system.name, run.perSecond, run.capped ? `capped at ${run.completed} completions` : undefined);
            memory.recordShallowWindow(system, run.rss);
            (shallowRates.get(system) ?? shallowRates.set(system, []).get(system))?.push(run.perSecond);
            ctx.log(`depth ${shallow} round ${round + 1}/${rounds} ${system.name}: ${perSecond(run.perSecond)}`);
          }
        }
        ctx.signal.throwIfAborted();
        if (ctx.settings.mode === "quick") {
          // Both at once, to stay within the minute; the fill rate is then not a figure.
          ctx.log(`depth: filling both systems with ${deepLabel} tasks at once…`);
          await Promise.all([taskwire, bullmq].map((system) => queues.topUp(system, "deep", deep + window, ctx)));
          section.note("Quick mode: both deep queues were filled at the same time, so their fill rates are not reported.");
        } else {
          for (const system of [taskwire, bullmq]) {
            ctx.log(`depth: filling ${system.name} with ${deepLabel} tasks…`);
            const rate = await queues.topUp(system, "deep", deep + window, ctx);
            section.add(rows.fill, system.name, rate);
            ctx.log(`depth: filled ${system.name} at ${perSecond(rate)}`);
          }
        }
        for (const system of [taskwire, bullmq]) await memory.recordDeep(system, "deep", await queues.queued(system, "deep"));
        for (let round = 0; round < rounds; round++) {
          for (const system of systemsInOrder(round, taskwire, bullmq)) {
            ctx.signal.throwIfAborted();
            await queues.topUp(system, "deep", deep + window, ctx);
            const run = await processQueued(system, "deep", window, CONCURRENCY, capMs);
            section.add(rows.deep, system.name, run.perSecond, run.capped ? `capped at ${run.completed} completions` : undefined);
            memory.recordDeepWindow(system, run.rss);
            const shallowRate = shallowRates.get(system)?.[round];
            if (shallowRate !== undefined) section.add(rows.ratio, system.name, run.perSecond / shallowRate);
            ctx.log(`depth ${deepLabel} round ${round + 1}/${rounds} ${system.name}: ${perSecond(run.perSecond)}`);
          }
        }
      } finally {
        await Promise.all([taskwire.close(), bullmq.close()]);
      }
    });
  },
};

/** How many tasks each system's queues hold: submitted minus completed (exact while no worker runs). */
class QueueBook {
  readonly #submitted = new Map<string, number>();

  async queued(system: QueueSystem, queue: string): Promise<number> {
    return (this.#submitted.get(`${system.name}/${queue}`) ?? 0) - (await system.completedCount(queue));
  }

  /** Submits what `queue` lacks to hold `target` tasks; resolves with the submission rate (0 when nothing was needed). */
  async topUp(system: QueueSystem, queue: string, target: number, ctx: ScenarioContext): Promise<number> {
    const missing = target - (await this.queued(system, queue));
    if (missing <= 0) return 0;
    const rate = await fill(system, queue, missing, { lanes: ctx.settings.fillLanes });
    this.#submitted.set(`${system.name}/${queue}`, (this.#submitted.get(`${system.name}/${queue}`) ?? 0) + missing);
    return rate;
  }
}
