/**
 * Task types of the fault tests, served by real worker processes
 * (`taskwire worker start --tasks test/fault/support/fault-tasks.ts`). Each execution that
 * reaches its end appends `<task id> <attempt> <pid>` to the file named by
 * `TASKWIRE_FAULT_LOG`, so the books can tell how often a task ran, beside how often its result
 * was recorded.
 */
import { appendFileSync } from "node:fs";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { defineTask } from "../../../src/worker/index.js";

/** Retries are quick, so that recoveries do not wait on back-off. */
const QUICK_RETRIES = { retries: 9, backoff: { initial: 50, max: 500 } } as const;

function recordExecution(taskId: string, attempt: number): void {
  const file = process.env.TASKWIRE_FAULT_LOG;
  if (file) appendFileSync(file, `${taskId} ${attempt} ${process.pid}\n`);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/** Waits `ms` (default 20), records its execution and returns its task id and attempt. */
export const work = defineTask(
  { name: "fault.work", input: StructSchema, output: StructSchema, queue: "fault", ...QUICK_RETRIES },
  async (input, ctx) => {
    await pause(Number(input.ms ?? 20), ctx.signal);
    recordExecution(ctx.taskId, ctx.attempt);
    return { taskId: ctx.taskId, attempt: ctx.attempt, pid: process.pid };
  },
);

/**
 * Blocks its worker's event loop for `ms` on its first `blockAttempts` attempts (default 1): no
 * heartbeat leaves the process meanwhile, like a worker stuck in a `while (true)`.
 */
export const block = defineTask(
  { name: "fault.block", input: StructSchema, output: StructSchema, queue: "stall", ...QUICK_RETRIES },
  async (input, ctx) => {
    if (ctx.attempt <= Number(input.blockAttempts ?? 1)) {
      const until = Date.now() + Number(input.ms ?? 5_000);
      let spins = 0;
      while (Date.now() < until) spins++;
      ctx.log.info(`blocked the event loop (${spins} spins)`);
    }
    recordExecution(ctx.taskId, ctx.attempt);
    return { taskId: ctx.taskId, attempt: ctx.attempt, pid: process.pid };
  },
);
