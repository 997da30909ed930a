/**
 * Scenario 3, pickup latency: N submissions one after the other to an idle worker (concurrency
 * 1), each waiting for its result before the next. Per task, from just before the submit call:
 * - to start: the worker's handler records when it started (`clock.ts`: the same wall clock in
 *   every process, sub-millisecond) and returns it as its output;
 * - to result: until the client holds the result — Taskwire: `Submit`, then `GetResult` with a
 *   wait; BullMQ: `add`, then `job.waitUntilFinished(queueEvents)`.
 */
import { percentile } from "../report.js";
import type { RoundTrip } from "../systems/system.js";
import { stateNote, systemsInOrder, type Scenario } from "../runner.js";

export const latencyScenario: Scenario = {
  id: "latency",
  async run(ctx) {
    const { submissions, warmup } = ctx.settings.latency;
    const section = ctx.results.section(
      3,
      "latency",
      "Pickup latency",
      ["taskwire", "bullmq"],
      `${submissions.toLocaleString("en")} sequential submissions (after ${warmup} untimed ones) to an idle worker at concurrency 1. ` +
        "Submit → start: from just before Submit/add to the handler's first line (worker's clock, same wall clock as the client's, sub-ms). " +
        "Submit → result: until the client holds the result (Taskwire: GetResult with wait; BullMQ: waitUntilFinished on QueueEvents). " +
        "Percentiles are per round; the cells show their median over the rounds. " +
        stateNote(ctx.settings),
    );
    const rows = {
      start: [50, 95, 99].map((p) => ({ p, row: section.row(`start-p${p}`, `submit → start p${p}`, "ms", "lower") })),
      result: [50, 95, 99].map((p) => ({ p, row: section.row(`result-p${p}`, `submit → result p${p}`, "ms", "lower") })),
    };
    for (let round = 0; round < ctx.settings.rounds; round++) {
      await ctx.systems.use(async (taskwire, bullmq) => {
        for (const system of systemsInOrder(round, taskwire, bullmq)) {
          ctx.signal.throwIfAborted();
          await system.startWorker("latency", 1, "stamp");
          const samples: RoundTrip[] = [];
          try {
            for (let i = 0; i < warmup; i++) await system.roundTrip("latency");
            for (let i = 0; i < submissions; i++) samples.push(await system.roundTrip("latency"));
          } finally {
            await system.stopWorker();
          }
          for (const { p, row } of rows.start) section.add(row, system.name, percentile(samples.map((s) => s.toStart), p));
          for (const { p, row } of rows.result) section.add(row, system.name, percentile(samples.map((s) => s.toResult), p));
          const fmt = (values: number[]) => [50, 95, 99].map((p) => percentile(values, p).toFixed(2)).join("/");
          ctx.log(
            `latency round ${round + 1}/${ctx.settings.rounds} ${system.name}: start p50/95/99 ${fmt(samples.map((s) => s.toStart))} ms, ` +
              `result ${fmt(samples.map((s) => s.toResult))} ms`,
          );
        }
      });
    }
  },
};
