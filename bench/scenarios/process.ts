/**
 * Scenario 2, end-to-end processing: N no-op tasks are queued first (untimed), then a worker
 * process at concurrency 1, 10 and 100 works through them, with equal priorities and with a
 * spread of 10 priorities. Throughput is (completions − 1) / (last − first recorded finish
 * time): Taskwire's `finish_time`, written with the result in PostgreSQL; BullMQ's
 * `finishedOn`, written with the return value in Redis. When a run reaches the time cap first,
 * the worker is stopped and the figure covers the tasks that finished (said in the notes).
 * The last rows run Taskwire's worker with `prefetch` (tasks held ahead of free slots, an opt-in
 * for short tasks); BullMQ, which has no such setting, runs as in the other rows.
 */
import { memorySection } from "./memory.js";
import { fill, processQueued } from "../systems/system.js";
import { perSecond, stateNote, systemsInOrder, type Scenario } from "../runner.js";

/** Taskwire worker `prefetch` of the prefetch rows. */
const PREFETCH = 100;

export const processScenario: Scenario = {
  id: "process",
  async run(ctx) {
    const { tasks, concurrencies, capMs, warmup } = ctx.settings.process;
    const section = ctx.results.section(
      2,
      "process",
      "End-to-end processing of queued tasks",
      ["taskwire", "bullmq"],
      `${tasks.toLocaleString("en")} no-op tasks queued (untimed), then one worker process per system at the given concurrency; ` +
        "throughput from the first to the last recorded completion (result stored). Priority spread: priorities 1–10 in a fixed scrambled order, " +
        "one queue (Taskwire: higher first; BullMQ: the mirrored 10–1). Each round starts with an untimed warm-up run; " +
        `a run stops after ${capMs / 1000} s. Completion is detected by the worker process counting its handler calls (no polling of the ` +
        "system under test), then one ListTasks total (Taskwire) or ZCARD (BullMQ) confirms the results are recorded; the window is read afterwards. " +
        `Prefetch rows: Taskwire's worker holds up to ${PREFETCH} tasks beyond its concurrency (\`prefetch\`, an opt-in for short tasks); BullMQ, which has no such setting, runs as above. ` +
        stateNote(ctx.settings),
    );
    const memory = memorySection(ctx);
    const plain = concurrencies.flatMap((concurrency) =>
      [false, true].map((priorities) => ({
        concurrency,
        priorities,
        prefetch: 0,
        queue: `c${concurrency}${priorities ? "-prio" : ""}`,
        row: section.row(
          `c${concurrency}${priorities ? "-prio" : ""}`,
          `concurrency ${concurrency}${priorities ? ", priority spread" : ""}`,
          "tasks/s",
          "higher",
        ),
      })),
    );
    const prefetched = concurrencies.map((concurrency) => ({
      concurrency,
      priorities: false,
      prefetch: PREFETCH,
      queue: `c${concurrency}-prefetch`,
      row: section.row(`c${concurrency}-prefetch`, `concurrency ${concurrency}, Taskwire prefetch ${PREFETCH}`, "tasks/s", "higher"),
    }));
    const rows = [...plain, ...prefetched];
    for (let round = 0; round < ctx.settings.rounds; round++) {
      await ctx.systems.use(async (taskwire, bullmq) => {
        for (const system of systemsInOrder(round, taskwire, bullmq)) {
          await fill(system, "process-warmup", warmup, { lanes: ctx.settings.fillLanes });
          await processQueued(system, "process-warmup", warmup, 10, 60_000);
        }
        for (const { concurrency, priorities, prefetch, queue, row } of rows) {
          for (const system of systemsInOrder(round, taskwire, bullmq)) {
            ctx.signal.throwIfAborted();
            await fill(system, queue, tasks, { lanes: ctx.settings.fillLanes, priorities });
            if (round === 0 && concurrency === concurrencies.at(-1)) await memory.recordQueuedBytes(system, queue, tasks, priorities);
            const run = await processQueued(system, queue, tasks, concurrency, capMs, prefetch);
            const note = run.capped
              ? `capped: ${run.completed.toLocaleString("en")} of ${tasks.toLocaleString("en")} in ${capMs / 1000} s (round ${round + 1})`
              : undefined;
            section.add(row, system.name, run.perSecond, note);
            ctx.log(
              `process round ${round + 1}/${ctx.settings.rounds} ${queue} ${system.name}: ${perSecond(run.perSecond)}` +
                (run.capped ? ` (capped at ${run.completed} tasks)` : ""),
            );
          }
        }
      });
    }
  },
};
