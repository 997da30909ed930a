/**
 * A claim whose read of its tasks PostgreSQL does not answer (it hangs). The attempt starts in
 * the claim and nothing is written before the task reaches its worker, so there is nothing in
 * doubt: the claim keeps its tasks (leases listed for renewal, claimed for the reaper), reads
 * again once PostgreSQL answers, and assigns attempt 1; the start is written afterwards by the
 * start writer, and a progress report has it written at once.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { HelloSchema, type ConnectResponse } from "../../gen/taskwire/v1/worker_service_pb.js";
import { RedisBroker } from "../../src/broker/redis/redis-broker.js";
import { UnavailableError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import { Dispatcher } from "../../src/server/engine/dispatcher.js";
import { SessionRegistry } from "../../src/server/engine/session-registry.js";
import { StartWriter } from "../../src/server/engine/start-writer.js";
import { TaskEvents } from "../../src/server/engine/task-events.js";
import { WorkerSession } from "../../src/server/engine/worker-session.js";
import type { TaskStore } from "../../src/store/store.js";
import { insertOne } from "../store/store-contract.js";
import { cleanupsAfterEach } from "../support/cleanups.js";
import { createTestStore } from "../support/database.js";
import { redisTestSpace } from "../support/redis.js";

/** The store as a hung PostgreSQL shows it: every `beginAttempts` is refused as unavailable until `resume`. */
function hangingStore(store: TaskStore) {
  let hung = true;
  let announce!: () => void;
  const refused = new Promise<void>((resolve) => (announce = resolve));
  const proxy = new Proxy<TaskStore>(store, {
    get(target, property) {
      if (property === "beginAttempts") {
        return async (...args: Parameters<TaskStore["beginAttempts"]>) => {
          if (hung) {
            announce();
            throw new UnavailableError("STORE_UNAVAILABLE", "PostgreSQL did not answer within 100 ms (test)");
          }
          return target.beginAttempts(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    store: proxy,
    refused,
    resume() {
      hung = false;
    },
  };
}

describe("a claim whose read PostgreSQL does not answer", () => {
  const cleanups = cleanupsAfterEach();

  it("keeps its task, assigns attempt 1 once PostgreSQL answers, and writes the start afterwards", async () => {
    const created = await createTestStore();
    cleanups.push(created.cleanup);
    const space = redisTestSpace();
    cleanups.push(() => space.cleanup());
    const logger = silentLogger();
    const broker = await RedisBroker.connect({ url: space.url, prefix: space.prefix, logger });
    cleanups.push(() => broker.close());
    const hanging = hangingStore(created.store);
    const events = new TaskEvents(broker, logger);
    const starts = new StartWriter(hanging.store, logger, () => undefined, { delayMs: 50 });
    cleanups.push(async () => starts.close());
    const sessions = new SessionRegistry();
    const dispatcher = new Dispatcher(sessions, broker, hanging.store, starts, events, 60_000, logger, async () => new Date(0));
    cleanups.push(() => dispatcher.close());

    const task = await insertOne(created.store, { queue: "default", type: "demo.echo" });
    await broker.enqueue([{ id: task.id, queue: "default", type: "demo.echo", priority: 0 }]);
    const hello = create(HelloSchema, { workerId: "worker-1", queues: ["default"], slots: 1, types: [{ name: "demo.echo" }] });
    const session = new WorkerSession("session-1", hello, logger);
    sessions.add(session);
    const messages = session.outbox[Symbol.asyncIterator]();
    session.grant(1);
    dispatcher.kick();

    await hanging.refused;
    // Waiting: the task is the claim's, its lease renewed by this server, left alone by reapers.
    expect(dispatcher.isClaimed(task.id)).toBe(true);
    expect(dispatcher.claimedLeases()).toEqual([{ id: task.id, queue: "default" }]);
    expect(await created.store.getTask(task.id)).toMatchObject({ state: "QUEUED", attempt: 0 });

    hanging.resume();
    const { value } = (await messages.next()) as IteratorResult<ConnectResponse>;
    expect(value.message.case).toBe("assign");
    const [assignment] = value.message.case === "assign" ? value.message.value.tasks : [];
    expect(assignment).toMatchObject({ taskId: task.id, attempt: 1 });
    expect(session.holds(task.id, 1)).toBe(true);
    // The start reaches PostgreSQL after the task reached its worker.
    expect(starts.unwritten(task.id, 1)).toMatchObject({ workerId: "worker-1" });
    await starts.written(task.id);
    expect(starts.unwritten(task.id, 1)).toBeUndefined();
    expect(dispatcher.isClaimed(task.id)).toBe(false);
    expect(await created.store.getTask(task.id)).toMatchObject({ state: "RUNNING", attempt: 1, workerId: "worker-1" });
  });
});
