/**
 * The dispatcher on a real Redis broker and PostgreSQL store, without a server or a maintenance
 * loop (no safety tick): a task must reach the worker's session through wake-ups and grants
 * alone. Covers the skipping of queues a claim found empty, and the wake-up that arrives while
 * a claim that finds nothing is in flight.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { HelloSchema, type ConnectResponse } from "../../gen/taskwire/v1/worker_service_pb.js";
import type { Broker } from "../../src/broker/broker.js";
import { RedisBroker } from "../../src/broker/redis/redis-broker.js";
import { silentLogger } from "../../src/core/logger.js";
import type { TaskRecord } from "../../src/core/task-types.js";
import { Dispatcher } from "../../src/server/engine/dispatcher.js";
import { SessionRegistry } from "../../src/server/engine/session-registry.js";
import { StartWriter } from "../../src/server/engine/start-writer.js";
import { TaskEvents } from "../../src/server/engine/task-events.js";
import { WorkerSession } from "../../src/server/engine/worker-session.js";
import type { TaskStore } from "../../src/store/store.js";
import { createTestStore } from "../support/database.js";
import { redisTestSpace } from "../support/redis.js";
import { insertOne } from "../store/store-contract.js";
import { cleanupsAfterEach } from "../support/cleanups.js";

const QUEUES = ["high_priority", "default"];

/** A gate a claim waits at after Redis answered it, until the test opens it. */
interface ClaimGate {
  queue: string;
  /** Resolves once a claim of `queue` was answered by Redis and is held. */
  reached: Promise<void>;
  open(): void;
}

/** The broker, counting claims per queue and holding the answer of one when a gate is set. */
function observed(broker: Broker) {
  const claims = new Map<string, number>();
  let gate: (ClaimGate & { arrive(): void; opened: Promise<void> }) | undefined;
  const proxy = new Proxy<Broker>(broker, {
    get(target, property) {
      if (property === "claim") {
        return async (queue: string, types: readonly string[], count: number, leaseUntil: number) => {
          claims.set(queue, (claims.get(queue) ?? 0) + 1);
          const ids = await target.claim(queue, types, count, leaseUntil);
          const held = gate;
          if (held && held.queue === queue) {
            gate = undefined;
            held.arrive();
            await held.opened;
          }
          return ids;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    broker: proxy,
    claimsOf: (queue: string) => claims.get(queue) ?? 0,
    holdNextClaim(queue: string): ClaimGate {
      let arrive!: () => void;
      let open!: () => void;
      const reached = new Promise<void>((resolve) => (arrive = resolve));
      const opened = new Promise<void>((resolve) => (open = resolve));
      gate = { queue, reached, open, arrive, opened };
      return gate;
    },
  };
}

describe("Dispatcher", () => {
  const cleanups = cleanupsAfterEach();

  async function setup() {
    const created = await createTestStore();
    cleanups.push(created.cleanup);
    const space = redisTestSpace();
    cleanups.push(() => space.cleanup());
    const logger = silentLogger();
    const real = await RedisBroker.connect({ url: space.url, prefix: space.prefix, logger });
    cleanups.push(() => real.close());
    const { broker, claimsOf, holdNextClaim } = observed(real);
    const events = new TaskEvents(broker, logger);
    const starts = new StartWriter(created.store, logger, () => undefined);
    cleanups.push(async () => starts.close());
    const sessions = new SessionRegistry();
    const dispatcher = new Dispatcher(sessions, broker, created.store, starts, events, 60_000, logger, async () => new Date(0));
    cleanups.push(() => dispatcher.close());
    const unsubscribe = await broker.onWake((queue) => dispatcher.wake(queue));
    cleanups.push(unsubscribe);

    const connect = (workerId: string, burst = false, types: readonly string[] = ["demo.echo"]) => {
      const hello = create(HelloSchema, { workerId, queues: QUEUES, slots: 1, types: types.map((name) => ({ name })), burst });
      const session = new WorkerSession(`session-${workerId}`, hello, logger);
      sessions.add(session);
      dispatcher.kick();
      return session;
    };
    const session = connect("worker-1");
    const messages = session.outbox[Symbol.asyncIterator]();

    return {
      store: created.store as TaskStore,
      broker,
      dispatcher,
      claimsOf,
      holdNextClaim,
      session,
      connect,
      /** Grants the session's one slot and resolves with the id of the task assigned to it. */
      async nextAssigned(): Promise<string> {
        const { value, done } = (await messages.next()) as IteratorResult<ConnectResponse>;
        if (done || value.message.case !== "assign") throw new Error(`expected an Assign, got ${String(value?.message.case)}`);
        const [assignment] = value.message.value.tasks;
        return assignment!.taskId;
      },
    };
  }

  /** Inserts a QUEUED task in `queue` and makes it runnable, as Submit does. */
  async function submit(store: TaskStore, broker: Broker, queue: string, type = "demo.echo"): Promise<TaskRecord> {
    const task = await insertOne(store, { queue, type });
    await broker.enqueue([{ id: task.id, queue, type: task.type, priority: 0 }]);
    return task;
  }

  it("claims from a queue it found empty again only after a wake-up for it", async () => {
    const t = await setup();
    const first = await submit(t.store, t.broker, "default");
    t.session.grant(1);
    t.dispatcher.kick();
    expect(await t.nextAssigned()).toBe(first.id);
    const emptyClaims = t.claimsOf("high_priority");
    expect(emptyClaims).toBeGreaterThanOrEqual(1);

    for (let i = 0; i < 5; i++) {
      const task = await submit(t.store, t.broker, "default");
      t.session.takeAll();
      t.session.grant(1);
      t.dispatcher.kick();
      expect(await t.nextAssigned()).toBe(task.id);
    }
    // Five passes, none of which asked Redis about the empty queue ahead.
    expect(t.claimsOf("high_priority")).toBe(emptyClaims);

    // Work in it wakes it up, and it comes first again.
    const urgent = await submit(t.store, t.broker, "high_priority");
    await submit(t.store, t.broker, "default");
    t.session.takeAll();
    t.session.grant(1);
    t.dispatcher.kick();
    expect(await t.nextAssigned()).toBe(urgent.id);
    expect(t.claimsOf("high_priority")).toBeGreaterThan(emptyClaims);
  });

  it("claims from a queue found empty of one worker's types for a worker of other types", async () => {
    const t = await setup();
    let wokenUp!: () => void;
    const seen = new Promise<void>((resolve) => (wokenUp = resolve));
    cleanups.push(await t.broker.onWake((queue) => queue === "high_priority" && wokenUp()));
    const other = await submit(t.store, t.broker, "high_priority", "demo.other");
    await seen;
    // worker-1 (demo.echo) claims high_priority, finds none of its types, and moves on to default.
    const gate = t.holdNextClaim("default");
    t.session.grant(1);
    t.dispatcher.kick();
    await gate.reached;
    const emptyClaims = t.claimsOf("high_priority");
    // No wake-up and no tick from here: the mark worker-1 left must not hide the queue from worker-2.
    const second = t.connect("worker-2", false, ["demo.other"]);
    second.grant(1);
    t.dispatcher.kick();
    const { value } = (await second.outbox[Symbol.asyncIterator]().next()) as IteratorResult<ConnectResponse, undefined>;
    if (value?.message.case !== "assign") throw new Error(`expected an Assign, got ${String(value?.message.case)}`);
    expect(value.message.value.tasks.map((task) => task.taskId)).toEqual([other.id]);
    expect(t.claimsOf("high_priority")).toBe(emptyClaims + 1);
    gate.open();
  });

  it("forgets every empty queue on recheck", async () => {
    const t = await setup();
    t.session.grant(1);
    t.dispatcher.kick();
    const first = await submit(t.store, t.broker, "default");
    expect(await t.nextAssigned()).toBe(first.id);
    const before = t.claimsOf("high_priority");
    t.session.takeAll();
    t.session.grant(1);
    t.dispatcher.recheck();
    const next = await submit(t.store, t.broker, "default");
    expect(await t.nextAssigned()).toBe(next.id);
    expect(t.claimsOf("high_priority")).toBeGreaterThan(before);
  });

  it("assigns a task enqueued while a claim that found its queue empty was in flight", async () => {
    const t = await setup();
    let wokenUp!: () => void;
    const seen = new Promise<void>((resolve) => (wokenUp = resolve));
    cleanups.push(await t.broker.onWake((queue) => queue === "high_priority" && wokenUp()));
    const gate = t.holdNextClaim("high_priority");
    t.session.grant(1);
    t.dispatcher.kick();
    // Redis answered "empty"; the answer is held while the task arrives and its wake-up is handled.
    await gate.reached;
    const task = await submit(t.store, t.broker, "high_priority");
    await seen;
    gate.open();
    // No tick runs here: only the dispatcher itself can bring the task to the worker.
    expect(await t.nextAssigned()).toBe(task.id);
  });

  it("drains a burst worker whose queues are all known to be empty, without asking Redis", async () => {
    const t = await setup();
    const first = connectBurst(t, "burst-1");
    expect(await nextCase(first)).toBe("drain");
    const claims = QUEUES.map((queue) => t.claimsOf(queue));
    // Every queue was found empty by that claim: the next burst worker is told at once.
    const second = connectBurst(t, "burst-2");
    expect(await nextCase(second)).toBe("drain");
    expect(QUEUES.map((queue) => t.claimsOf(queue))).toEqual(claims);
  });
});

/** A burst worker that connected and granted its slot, as the worker service would. */
function connectBurst(t: { connect(workerId: string, burst: boolean): WorkerSession; dispatcher: Dispatcher }, workerId: string): WorkerSession {
  const session = t.connect(workerId, true);
  session.grant(1);
  t.dispatcher.kick();
  return session;
}

async function nextCase(session: WorkerSession): Promise<string | undefined> {
  const { value } = (await session.outbox[Symbol.asyncIterator]().next()) as IteratorResult<ConnectResponse>;
  return value?.message.case;
}
