/**
 * A claim whose `startAttempts` PostgreSQL does not answer (it hangs): the statement may commit
 * later, so the claim is in doubt. It must keep its tasks (leases listed for renewal, claimed for
 * the reaper) and, once PostgreSQL answers, assign the attempt it started, not lose it nor start
 * another. Both orders of the late commit and the read-back are covered: the read-back may run
 * before the first try commits, on another connection.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { HelloSchema, type ConnectResponse } from "../../gen/taskwire/v1/worker_service_pb.js";
import { RedisBroker } from "../../src/broker/redis/redis-broker.js";
import { UnavailableError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import { AttemptRecorder } from "../../src/server/engine/attempt-recorder.js";
import { Dispatcher } from "../../src/server/engine/dispatcher.js";
import { SessionRegistry } from "../../src/server/engine/session-registry.js";
import { TaskEvents } from "../../src/server/engine/task-events.js";
import { WorkerSession } from "../../src/server/engine/worker-session.js";
import type { StartedAttempts, TaskStore } from "../../src/store/store.js";
import { insertOne } from "../store/store-contract.js";
import { cleanupsAfterEach } from "../support/cleanups.js";
import { createTestStore } from "../support/database.js";
import { redisTestSpace } from "../support/redis.js";

type StartArgs = Parameters<TaskStore["startAttempts"]>;

/**
 * The store as a hung PostgreSQL shows it: the first `startAttempts` is refused as unavailable
 * while its statement is kept, to run on `resume`; meanwhile every `getTasks` is refused too.
 */
function hangingStore(store: TaskStore, order: "commit-first" | "read-first") {
  let held: { args: StartArgs; run: () => Promise<StartedAttempts> } | undefined;
  let heldCommitted: Promise<unknown> | undefined;
  let hung = true;
  let announce!: () => void;
  const inDoubt = new Promise<void>((resolve) => (announce = resolve));
  const unavailable = () => new UnavailableError("STORE_UNAVAILABLE", "PostgreSQL did not answer within 100 ms (test)");
  const proxy = new Proxy<TaskStore>(store, {
    get(target, property) {
      if (property === "startAttempts") {
        return async (...args: StartArgs) => {
          if (held === undefined) {
            held = { args, run: () => target.startAttempts(...args) };
            announce();
            throw unavailable();
          }
          if (hung) throw unavailable();
          // Read first: the late first try commits while this one waits for its row locks.
          heldCommitted ??= held.run();
          await heldCommitted;
          return target.startAttempts(...args);
        };
      }
      if (property === "getTasks") {
        return async (ids: readonly string[]) => {
          if (hung) throw unavailable();
          return target.getTasks(ids);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    store: proxy,
    inDoubt,
    /** PostgreSQL answers again; with "commit-first", the held statement commits before anything else runs. */
    async resume(): Promise<void> {
      if (order === "commit-first" && held) heldCommitted = held.run();
      await heldCommitted;
      hung = false;
    },
  };
}

describe("a claim in doubt", () => {
  const cleanups = cleanupsAfterEach();

  it.each(["commit-first", "read-first"] as const)("keeps its task and assigns the attempt PostgreSQL started late (%s)", async (order) => {
    const created = await createTestStore();
    cleanups.push(created.cleanup);
    const space = redisTestSpace();
    cleanups.push(() => space.cleanup());
    const logger = silentLogger();
    const broker = await RedisBroker.connect({ url: space.url, prefix: space.prefix, logger });
    cleanups.push(() => broker.close());
    const hanging = hangingStore(created.store, order);
    const events = new TaskEvents(broker, logger);
    const recorder = new AttemptRecorder(hanging.store, broker, events, logger);
    cleanups.push(async () => recorder.close());
    const sessions = new SessionRegistry();
    const dispatcher = new Dispatcher(sessions, broker, hanging.store, recorder, events, 60_000, logger);
    cleanups.push(() => dispatcher.close());

    const task = await insertOne(created.store, { queue: "default", type: "demo.echo" });
    await broker.enqueue([{ id: task.id, queue: "default", type: "demo.echo", priority: 0 }]);
    const hello = create(HelloSchema, { workerId: "worker-1", queues: ["default"], slots: 1, types: [{ name: "demo.echo" }] });
    const session = new WorkerSession("session-1", hello, logger);
    sessions.add(session);
    const messages = session.outbox[Symbol.asyncIterator]();
    session.grant(1);
    dispatcher.kick();

    await hanging.inDoubt;
    // In doubt: the task is the claim's, its lease renewed by this server, left alone by reapers.
    expect(dispatcher.isClaimed(task.id)).toBe(true);
    expect(dispatcher.claimedLeases()).toEqual([{ id: task.id, queue: "default" }]);

    await hanging.resume();
    const { value } = (await messages.next()) as IteratorResult<ConnectResponse>;
    expect(value.message.case).toBe("assign");
    const [assignment] = value.message.case === "assign" ? value.message.value.tasks : [];
    expect(assignment).toMatchObject({ taskId: task.id, attempt: 1 });
    // The attempt started late is the one assigned: no second attempt was started, none lost.
    expect(await created.store.getTask(task.id)).toMatchObject({ state: "RUNNING", attempt: 1, workerId: "worker-1" });
    expect(session.holds(task.id, 1)).toBe(true);
    expect(dispatcher.isClaimed(task.id)).toBe(false);
  });
});
