/**
 * Durable recording of outcomes: while PostgreSQL is unavailable an outcome is kept, retried
 * with back-off and its lease listed for renewal; it is recorded once PostgreSQL answers again.
 */
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../../src/broker/memory/memory-broker.js";
import { UnavailableError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import { AttemptRecorder } from "../../src/server/engine/attempt-recorder.js";
import { TaskEvents } from "../../src/server/engine/task-events.js";
import type { AttemptOutcome, TaskStore } from "../../src/store/store.js";
import { createTestStore } from "../support/database.js";
import { mustGet, runningTask } from "../store/store-contract.js";
import { cleanupsAfterEach } from "../support/cleanups.js";

/** A store whose `finishAttempts` fails while `down` (as when PostgreSQL is unreachable). */
interface FlakyStore {
  store: TaskStore;
  down: boolean;
  /** Failed calls so far. */
  failures: number;
  /** Resolves once `count` calls failed. */
  failed(count: number): Promise<void>;
  /** What a failing call throws. @default an UnavailableError (STORE_UNAVAILABLE) */
  error: () => Error;
}

function flaky(store: TaskStore): FlakyStore {
  const waiters: { count: number; resolve: () => void }[] = [];
  const state: FlakyStore = {
    store: new Proxy<TaskStore>(store, {
      get(target, property) {
        if (property === "finishAttempts" && state.down) {
          return async () => {
            state.failures++;
            for (const waiter of waiters.filter((w) => w.count <= state.failures)) waiter.resolve();
            throw state.error();
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }),
    down: false,
    failures: 0,
    failed: (count) => (state.failures >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
    error: () => new UnavailableError("STORE_UNAVAILABLE", "PostgreSQL is unavailable (finishAttempts)"),
  };
  return state;
}

describe("AttemptRecorder.recordDurably", () => {
  const cleanups = cleanupsAfterEach();

  async function setup() {
    const created = await createTestStore();
    cleanups.push(created.cleanup);
    const broker = new MemoryBroker();
    cleanups.push(() => broker.close());
    const store = flaky(created.store);
    const recorder = new AttemptRecorder(store.store, broker, new TaskEvents(broker, silentLogger()), silentLogger());
    cleanups.push(async () => recorder.close());
    const task = await runningTask(created.store);
    const outcome: AttemptOutcome = { kind: "succeeded", id: task.id, attempt: 1, outputTypeUrl: "t", output: new Uint8Array([1]) };
    return { store, recorder, task, outcome, real: created.store };
  }

  it("keeps an outcome while PostgreSQL is unavailable, lists its lease, and records it once PostgreSQL is back", async () => {
    const { store, recorder, task, outcome, real } = await setup();
    store.down = true;
    const recorded = recorder.recordDurably(outcome, task.queue);
    await store.failed(2);
    expect(recorder.pendingLeases()).toEqual([{ id: task.id, queue: task.queue }]);
    expect(recorder.pendingCount).toBe(1);
    // The same result sent again (after a reconnection) joins the one being recorded.
    expect(recorder.recordDurably(outcome, task.queue)).toBe(recorded);
    expect(recorder.recording(task.id, 1)).toBe(recorded);

    store.down = false;
    expect((await recorded)?.state).toBe("SUCCEEDED");
    expect((await mustGet(real, task.id)).state).toBe("SUCCEEDED");
    expect(recorder.pendingLeases()).toEqual([]);
    expect(recorder.recording(task.id, 1)).toBeUndefined();
  });

  it("gives up when the recorder closes, with SHUTTING_DOWN", async () => {
    const { store, recorder, task, outcome } = await setup();
    store.down = true;
    const recorded = recorder.recordDurably(outcome, task.queue);
    await store.failed(1);
    recorder.close();
    await expect(recorded).rejects.toMatchObject({ name: "UnavailableError", reason: "SHUTTING_DOWN" });
    expect(recorder.pendingCount).toBe(0);
  });

  it("does not retry an error other than unavailability", async () => {
    const { store, recorder, task, outcome } = await setup();
    store.down = true;
    store.error = () => new TypeError("a bug");
    await expect(recorder.recordDurably(outcome, task.queue)).rejects.toThrow(TypeError);
    expect(store.failures).toBe(1);
  });
});
