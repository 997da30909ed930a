/**
 * Scenario 1, bulk submit: N no-op tasks in batches of 1,000, one batch in flight, until the
 * system acknowledged the last: Taskwire's `SubmitBatch` answers once the rows are committed in
 * PostgreSQL and indexed in Redis; BullMQ's `addBulk` once its MULTI is executed in Redis.
 */
import { fill } from "../systems/system.js";
import { perSecond, stateNote, systemsInOrder, type Scenario } from "../runner.js";

export const submitScenario: Scenario = {
  id: "submit",
  async run(ctx) {
    const { tasks, batch } = ctx.settings.submit;
    const section = ctx.results.section(
      1,
      "submit",
      "Bulk submit",
      ["taskwire", "bullmq"],
      `${tasks.toLocaleString("en")} no-op tasks in batches of ${batch.toLocaleString("en")} (SubmitBatch vs addBulk), one batch in flight, ` +
        "timed from building the first batch to the acknowledgement of the last, no worker running, after 2 untimed batches. " +
        stateNote(ctx.settings),
    );
    const row = section.row("bulk", `submit ${tasks.toLocaleString("en")} in batches of ${batch.toLocaleString("en")}`, "tasks/s", "higher");
    for (let round = 0; round < ctx.settings.rounds; round++) {
      ctx.signal.throwIfAborted();
      await ctx.systems.use(async (taskwire, bullmq) => {
        for (const system of systemsInOrder(round, taskwire, bullmq)) {
          await fill(system, "submit-warmup", 2 * batch, { batch });
          const rate = await fill(system, "submit", tasks, { batch });
          section.add(row, system.name, rate);
          ctx.log(`submit round ${round + 1}/${ctx.settings.rounds} ${system.name}: ${perSecond(rate)}`);
        }
      });
    }
  },
};
