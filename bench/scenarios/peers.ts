/**
 * Scenario 7 (issue 16), the durable peers: processing of queued no-op tasks at concurrency 100
 * and 1, Taskwire (Redis + PostgreSQL) against graphile-worker and BullMQ on its PostgreSQL
 * backend (both durable in PostgreSQL alone), with BullMQ on Redis as the speed reference, all
 * four in the same rounds, in an order that rotates from round to round. Each system gets its
 * own worker process; the method is scenario 2's (`processQueued`). What each keeps differs:
 * Taskwire and BullMQ keep every completed task with its result; graphile-worker deletes a job
 * as it completes, so its window is read from its handler's finish times (see `systems/peers.ts`).
 */
import { WorkerHost } from "../processes.js";
import { fill, processQueued, type QueueSystem } from "../systems/system.js";
import { BullmqPostgresSystem, GraphileSystem } from "../systems/peers.js";
import { perSecond, type Scenario } from "../runner.js";

const CONCURRENCIES = [100, 1];

export const peersScenario: Scenario = {
  id: "peers",
  async run(ctx) {
    const { tasks, capMs, warmup } = ctx.settings.process;
    const method = (peer: string, keeps: string) =>
      `${tasks.toLocaleString("en")} no-op tasks queued (untimed), then one worker process per system; throughput from the first to the last ` +
      `completion, as in scenario 2; all four systems (Taskwire, BullMQ on Redis, graphile-worker, BullMQ on PostgreSQL) run in the same rounds, ` +
      `in rotating order, each with its own worker process. ${peer} ${keeps} A run stops after ${capMs / 1000} s.`;
    const sections = {
      "graphile-worker": ctx.results.section(
        7,
        "peers-graphile-worker",
        "Durable peers: graphile-worker",
        ["taskwire", "graphile-worker"],
        method(
          "graphile-worker 0.17 with its performance settings (a local queue of 500 jobs fetched and locked per query, completions batched with `completeJobBatchDelay: 0`).",
          "It deletes a job as it completes (no result kept): a completion counts once its row is gone, its time is the handler's finish time.",
        ),
      ),
      "bullmq-pg": ctx.results.section(
        7,
        "peers-bullmq-pg",
        "Durable peers: BullMQ on PostgreSQL",
        ["taskwire", "bullmq-pg"],
        method("BullMQ's PostgreSQL backend (`createPostgresBackend`, same BullMQ version).", "It keeps completed jobs and their return values (its default), with their `finished_at_ms`."),
      ),
      bullmq: ctx.results.section(
        7,
        "peers-bullmq",
        "Durable peers: the speed reference, BullMQ on Redis, in the same rounds",
        ["taskwire", "bullmq"],
        method("BullMQ on Redis, as in scenario 2.", "It keeps completed jobs and their return values in Redis."),
      ),
    };
    const rows = CONCURRENCIES.map((concurrency) => ({
      concurrency,
      queue: `peers-c${concurrency}`,
      rows: Object.fromEntries(Object.entries(sections).map(([name, section]) => [name, section.row(`c${concurrency}`, `concurrency ${concurrency}`, "tasks/s", "higher")])),
    }));
    const peersHost = WorkerHost.start("peers");
    const graphileHost = WorkerHost.start("peers");
    try {
      for (let round = 0; round < ctx.settings.rounds; round++) {
        await ctx.systems.use(async (taskwire, bullmq) => {
          const graphile = new GraphileSystem(ctx.settings.stores.databaseUrl, graphileHost);
          const bullmqPg = new BullmqPostgresSystem(ctx.settings.stores.databaseUrl, peersHost);
          try {
            const all: QueueSystem[] = [taskwire, bullmq, graphile, bullmqPg];
            const order = [...all.slice(round % all.length), ...all.slice(0, round % all.length)];
            for (const system of order) {
              await fill(system, "peers-warmup", warmup, { lanes: ctx.settings.fillLanes });
              await processQueued(system, "peers-warmup", warmup, 10, 60_000);
            }
            for (const { concurrency, queue, rows: byPeer } of rows) {
              const results = new Map<string, number>();
              for (const system of order) {
                ctx.signal.throwIfAborted();
                await fill(system, queue, tasks, { lanes: ctx.settings.fillLanes });
                const run = await processQueued(system, queue, tasks, concurrency, capMs);
                results.set(system.name, run.perSecond);
                ctx.log(`peers round ${round + 1}/${ctx.settings.rounds} c${concurrency} ${system.name}: ${perSecond(run.perSecond)}` + (run.capped ? ` (capped at ${run.completed} tasks)` : ""));
              }
              for (const [name, section] of Object.entries(sections)) {
                const row = byPeer[name];
                const own = results.get(name);
                const ours = results.get("taskwire");
                if (row === undefined || own === undefined || ours === undefined) continue;
                section.add(row, "taskwire", ours);
                section.add(row, name as "graphile-worker" | "bullmq-pg" | "bullmq", own);
              }
            }
          } finally {
            await Promise.all([graphile.close(), bullmqPg.close()]);
          }
        });
      }
    } finally {
      await Promise.all([peersHost.close(), graphileHost.close()]);
    }
  },
};
