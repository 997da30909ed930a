/**
 * Scenario 5, memory. Measured where the queues are already full, so nothing is filled twice:
 * - Redis bytes per queued task: the sum of `MEMORY USAGE … SAMPLES 0` (exact) over the keys
 *   of the queue (Taskwire: `<prefix>:{q:<queue>}:*`; BullMQ: `<prefix>:<queue>:*`, job hashes
 *   included), divided by the tasks queued. At the depth scenario's deep queue (no priorities)
 *   and, in round 1 of the processing scenario, at its largest-concurrency queues (with and
 *   without the priority spread).
 * - RSS (`/proc/<pid>/status` VmRSS) of the Taskwire server and of each worker process at the
 *   end of each measured window (while processing, ~1,000 and ~1M queued), and of the server at
 *   rest once the deep queue is full.
 */
import type { ScenarioContext } from "../runner.js";
import type { QueueSystem } from "../systems/system.js";
import type { SectionRecorder } from "../report.js";
import type { Rss } from "../processes.js";

const MB = 1024 * 1024;

export interface MemorySection {
  recorder: SectionRecorder;
  /** Records the Redis bytes per task of `queue`, which holds `queued` tasks. */
  recordQueuedBytes(system: QueueSystem, queue: string, queued: number, priorities: boolean): Promise<void>;
  /** Records the full deep queue: Redis bytes per task, and the server's RSS at rest. */
  recordDeep(system: QueueSystem, queue: string, queued: number): Promise<void>;
  /** Records the RSS taken at the end of a window of the shallow queue. */
  recordShallowWindow(system: QueueSystem, rss: { server?: Rss; worker?: Rss }): void;
  /** Records the RSS taken at the end of a window of the deep queue. */
  recordDeepWindow(system: QueueSystem, rss: { server?: Rss; worker?: Rss }): void;
}

/** The memory section of the report, created on first use. */
export function memorySection(ctx: ScenarioContext): MemorySection {
  const deep = ctx.settings.depth.deep;
  const depthLabel = deep >= 1_000_000 ? `${deep / 1_000_000}M` : `${deep / 1000}k`;
  const recorder = ctx.results.section(
    5,
    "memory",
    "Memory",
    ["taskwire", "bullmq"],
    "Redis bytes per queued task: sum of MEMORY USAGE (SAMPLES 0) over the queue's keys (BullMQ's job hashes included) / tasks queued. " +
      "RSS: VmRSS from /proc/<pid>/status of the Taskwire server and of each worker process at the end of each measured window of scenario 4 " +
      "(while processing), and of the server at rest once the deep queue is full. BullMQ has no server process (its state is all in Redis).",
  );
  const rows = {
    bytes: recorder.row("redis-bytes", `Redis bytes per queued task, ${depthLabel} queued`, "B", "lower"),
    bytesPlain: recorder.row("redis-bytes-process", `Redis bytes per queued task, ${ctx.settings.process.tasks.toLocaleString("en")} queued`, "B", "lower"),
    bytesPrio: recorder.row(
      "redis-bytes-process-prio",
      `Redis bytes per queued task, ${ctx.settings.process.tasks.toLocaleString("en")} queued, priority spread`,
      "B",
      "lower",
    ),
    server: recorder.row("server-rss", `server RSS, ${depthLabel} queued, processing`, "MB", "lower"),
    serverFilled: recorder.row("server-rss-filled", `server RSS, ${depthLabel} queued, idle after the fill`, "MB", "lower"),
    serverShallow: recorder.row("server-rss-shallow", `server RSS, ~${ctx.settings.depth.shallow.toLocaleString("en")} queued, processing`, "MB", "lower"),
    worker: recorder.row("worker-rss", `worker RSS, processing from ${depthLabel} queued`, "MB", "lower"),
  };
  return {
    recorder,
    async recordQueuedBytes(system, queue, queued, priorities) {
      const bytes = await system.redisBytes(queue);
      recorder.add(priorities ? rows.bytesPrio : rows.bytesPlain, system.name, bytes / queued);
    },
    async recordDeep(system, queue, queued) {
      const bytes = await system.redisBytes(queue);
      recorder.add(rows.bytes, system.name, bytes / queued);
      const { server } = await system.rss();
      if (server) recorder.add(rows.serverFilled, system.name, server.current / MB);
      ctx.log(`memory ${system.name}: ${(bytes / queued).toFixed(0)} Redis bytes per queued task${server ? `, server RSS ${(server.current / MB).toFixed(0)} MB` : ""}`);
    },
    recordShallowWindow(system, rss) {
      if (rss.server) recorder.add(rows.serverShallow, system.name, rss.server.current / MB);
    },
    recordDeepWindow(system, rss) {
      if (rss.server) recorder.add(rows.server, system.name, rss.server.current / MB);
      if (rss.worker) recorder.add(rows.worker, system.name, rss.worker.current / MB);
    },
  };
}
