/**
 * Scenario 7 (issue 19): fairness across concurrency keys, on the embedded back end (whose
 * in-process broker enforces limits and fairness; README "Limits and fairness"). Per round, on
 * fresh state: key A submits N no-op tasks, then key B submits 10 right after; a worker process
 * at concurrency 10 works through them. Measured: the dispatch position of B's last task (how
 * many tasks started before it, by recorded start times), and the processing rate (as in
 * scenario 2) with keys, against the same N + 10 tasks without keys (plain FIFO).
 */
import { fill, processQueued } from "../systems/system.js";
import { TaskwireSystem } from "../systems/taskwire.js";
import { WorkerHost } from "../processes.js";
import { inOrder, perSecond, type Scenario } from "../runner.js";

export const fairnessScenario: Scenario = {
  id: "fairness",
  async run(ctx) {
    const { tasksA, tasksB, concurrency, capMs } = ctx.settings.fairness;
    const total = tasksA + tasksB;
    const section = ctx.results.section(
      7,
      "fairness",
      "Fairness across concurrency keys (issue 19), embedded back end",
      ["fair-keys", "fifo"],
      `Key A submits ${tasksA.toLocaleString("en")} no-op tasks (batches of 1,000), then key B submits ${tasksB}; a worker process at concurrency ${concurrency} ` +
        `processes them. "keys": with the concurrency keys (round-robin within the priority); "fifo": the same ${total.toLocaleString("en")} tasks without keys. ` +
        "B's last start: how many tasks started before B's last task, by recorded start times (fifo: B's tasks come last).",
    );
    const rows = {
      lastB: section.row("b-last-start", `position of B's last start among ${total.toLocaleString("en")}`, "tasks", "lower"),
      process: section.row("process", `process ${total.toLocaleString("en")}, concurrency ${concurrency}`, "tasks/s", "higher"),
    };
    const host = WorkerHost.start("taskwire");
    try {
      for (let round = 0; round < ctx.settings.rounds; round++) {
        for (const mode of inOrder<"fair-keys" | "fifo">(round, "fair-keys", "fifo")) {
          ctx.signal.throwIfAborted();
          const system = await TaskwireSystem.create({ backend: "embedded", stores: ctx.settings.stores, host, name: mode });
          try {
            if (mode === "fair-keys") {
              for (let offset = 0; offset < tasksA; offset += 1000) await system.submitKeyed("fairness", Math.min(1000, tasksA - offset), "A");
              await system.submitKeyed("fairness", tasksB, "B");
            } else {
              await fill(system, "fairness", total);
            }
            const run = await processQueued(system, "fairness", total, concurrency, capMs);
            section.add(rows.process, mode, run.perSecond, run.capped ? `capped at ${run.completed} completions` : undefined);
            let position: number | undefined;
            if (mode === "fair-keys" && !run.capped) {
              const starts = await system.startsByKey("fairness");
              const lastB = starts.map((s) => s.key).lastIndexOf("B");
              position = lastB + 1;
              section.add(rows.lastB, mode, position);
            }
            ctx.log(
              `fairness round ${round + 1}/${ctx.settings.rounds} ${mode}: process ${perSecond(run.perSecond)}${position === undefined ? "" : `, B's last start ${position} of ${total}`}`,
            );
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
