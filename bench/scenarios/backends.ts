/**
 * Scenario 6 (issue 4): Taskwire's two back ends end to end — the embedded default (PGlite and
 * the in-process broker, in the server process) and Redis + PostgreSQL. Per round and back end,
 * on fresh state: N no-op tasks submitted in batches of 1,000 (one in flight; the submit rate),
 * then a worker process at concurrency 100 works through them (the processing rate, from the
 * recorded finish times as in scenario 2).
 */
import { fill, processQueued } from "../systems/system.js";
import { TaskwireSystem, type Backend } from "../systems/taskwire.js";
import { WorkerHost } from "../processes.js";
import { inOrder, perSecond, type Scenario } from "../runner.js";

export const backendsScenario: Scenario = {
  id: "backends",
  async run(ctx) {
    const { tasks, concurrency, capMs } = ctx.settings.backends;
    const section = ctx.results.section(
      6,
      "backends",
      "Taskwire back ends: embedded default vs Redis + PostgreSQL (issue 4)",
      ["embedded", "redis+postgres"],
      `${tasks.toLocaleString("en")} no-op tasks per round on fresh state (a new data directory / schema and prefix): submitted in batches of 1,000, ` +
        `one in flight, then processed by a worker process at concurrency ${concurrency} (first to last recorded completion). Same server command, ` +
        "same worker, only the storage settings differ.",
    );
    const rows = {
      submit: section.row("submit", `submit ${tasks.toLocaleString("en")}, batches of 1,000`, "tasks/s", "higher"),
      process: section.row("process", `process ${tasks.toLocaleString("en")}, concurrency ${concurrency}`, "tasks/s", "higher"),
    };
    const host = WorkerHost.start("taskwire");
    try {
      for (let round = 0; round < ctx.settings.rounds; round++) {
        for (const backend of inOrder<Backend>(round, "embedded", "redis+postgres")) {
          ctx.signal.throwIfAborted();
          const system = await TaskwireSystem.create({ backend, stores: ctx.settings.stores, host, name: backend });
          try {
            const submitRate = await fill(system, "backends", tasks);
            const run = await processQueued(system, "backends", tasks, concurrency, capMs);
            section.add(rows.submit, backend, submitRate);
            section.add(rows.process, backend, run.perSecond, run.capped ? `capped at ${run.completed} completions` : undefined);
            ctx.log(`backends round ${round + 1}/${ctx.settings.rounds} ${backend}: submit ${perSecond(submitRate)}, process ${perSecond(run.perSecond)}`);
          } finally {
            await system.close();
          }
        }
      }
    } finally {
      await host.close();
    }
  },
};
