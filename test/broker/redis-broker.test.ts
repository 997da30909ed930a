import { createServer, connect as connectTcp } from "node:net";
import type { Server, Socket } from "node:net";
import { describe, expect, it } from "vitest";
import type { Redis } from "ioredis";
import { createKeys } from "../../src/broker/redis/keys.js";
import { RedisBroker } from "../../src/broker/redis/redis-broker.js";
import { loadScriptSources } from "../../src/broker/redis/scripts.js";
import { UnavailableError } from "../../src/core/errors.js";
import { PRIORITY_MAX, PRIORITY_MIN } from "../../src/core/limits.js";
import { silentLogger } from "../../src/core/logger.js";
import { keysWithPrefix, openTestRedis, redisTestSpace, TEST_REDIS_URL, uniquePrefix } from "../support/redis.js";
import { describeBrokerContract, drain, entries, EventLog, T } from "./contract.js";
import { cleanupsAfterEach } from "../support/cleanups.js";

describeBrokerContract("RedisBroker", async () => {
  const space = redisTestSpace();
  const broker = await RedisBroker.connect({ url: space.url, prefix: space.prefix, logger: silentLogger() });
  return {
    broker,
    cleanup: async () => {
      await broker.close();
      await space.cleanup();
    },
  };
});

describe("RedisBroker on Redis", () => {
  const cleanups = cleanupsAfterEach();

  /** A prefix of this test's own, deleted afterwards. */
  function space(): { prefix: string } {
    const created = redisTestSpace();
    cleanups.push(created.cleanup);
    return created;
  }

  async function brokerOn(prefix: string, url = TEST_REDIS_URL): Promise<RedisBroker> {
    const broker = await RedisBroker.connect({ url, prefix, logger: silentLogger() });
    cleanups.push(() => broker.close());
    return broker;
  }

  function testRedis(): Redis {
    const redis = openTestRedis();
    cleanups.push(async () => {
      await redis.quit();
    });
    return redis;
  }

  /** Redis Cluster's hash tag rule: the part between the first `{` and the next `}`, if not empty. */
  function hashTag(key: string): string {
    const open = key.indexOf("{");
    const close = open < 0 ? -1 : key.indexOf("}", open + 1);
    return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
  }

  describe("key layout", () => {
    it("keeps every key of a queue under one hash tag, and only ids and scores", async () => {
      const { prefix } = space();
      const broker = await brokerOn(prefix);
      await broker.enqueue([
        { id: "e1", queue: "emails", type: "send", priority: 3 },
        { id: "e2", queue: "emails", type: "send", priority: 0 },
        { id: "e4", queue: "emails", type: "bounce.check", priority: 0 },
        { id: "r1", queue: "reports.daily", type: "report", priority: 0 },
      ]);
      await broker.schedule([{ id: "e3", queue: "emails", type: "send", priority: -7, runAt: 1_000 }]);
      await broker.claim("emails", ["send"], 1, 5_000);
      await broker.holdDutyLease("retention", "server-a", 60_000);

      const redis = testRedis();
      const keys = await keysWithPrefix(redis, prefix);
      expect(keys.sort()).toEqual(
        [
          `${prefix}:queues`,
          `${prefix}:duty:retention`,
          `${prefix}:{q:emails}:delayed:v2`,
          `${prefix}:{q:emails}:leases`,
          `${prefix}:{q:emails}:pending:send`,
          `${prefix}:{q:emails}:pending:bounce.check`,
          `${prefix}:{q:emails}:types`,
          `${prefix}:{q:emails}:seq`,
          `${prefix}:{q:reports.daily}:pending:report`,
          `${prefix}:{q:reports.daily}:types`,
          `${prefix}:{q:reports.daily}:seq`,
        ].sort(),
      );
      for (const key of keys.filter((key) => key.includes("{q:emails}"))) expect(hashTag(key)).toBe("q:emails");
      for (const key of keys.filter((key) => key.includes("{q:reports.daily}"))) expect(hashTag(key)).toBe("q:reports.daily");

      const k = createKeys(prefix);
      expect(await redis.zrange(k.pending("emails", "send"), 0, -1)).toEqual(["e2"]);
      expect(await redis.zrange(k.pending("emails", "bounce.check"), 0, -1)).toEqual(["e4"]);
      expect((await redis.smembers(k.types("emails"))).sort()).toEqual(["bounce.check", "send"]);
      expect(await redis.zrange(k.leases("emails"), 0, -1, "WITHSCORES")).toEqual(["e1", "5000"]);
      expect(await redis.zrange(k.delayed("emails"), 0, -1, "WITHSCORES")).toEqual(["-7|send|e3", "1000"]);
      expect((await redis.smembers(k.queues())).sort()).toEqual(["emails", "reports.daily"]);
      expect(await redis.type(k.pending("emails", "send"))).toBe("zset");
      expect(await redis.get(k.dutyLease("retention"))).toBe("server-a");
    });

    it("keeps one arrival counter per queue, so scores compare across its types", async () => {
      const { prefix } = space();
      const broker = await brokerOn(prefix);
      await broker.enqueue([
        { id: "a", queue: "q", type: "x", priority: 0 },
        { id: "b", queue: "q", type: "y", priority: 0 },
      ]);
      await broker.enqueue([{ id: "c", queue: "q", type: "x", priority: 0 }]);
      const redis = testRedis();
      const k = createKeys(prefix);
      const base = BigInt(PRIORITY_MAX) * 2n ** 32n;
      expect(await redis.zrange(k.pending("q", "x"), 0, -1, "WITHSCORES")).toEqual(["a", String(base + 1n), "c", String(base + 3n)]);
      expect(await redis.zrange(k.pending("q", "y"), 0, -1, "WITHSCORES")).toEqual(["b", String(base + 2n)]);
    });

    it("stores the extreme priorities as exact scores", async () => {
      const { prefix } = space();
      const broker = await brokerOn(prefix);
      await broker.enqueue([
        { id: "min", queue: "q", type: T, priority: PRIORITY_MIN },
        { id: "max", queue: "q", type: T, priority: PRIORITY_MAX },
      ]);
      const scores = await testRedis().zrange(createKeys(prefix).pending("q", T), 0, -1, "WITHSCORES");
      expect(scores).toEqual(["max", "2", "min", (BigInt(PRIORITY_MAX - PRIORITY_MIN) * 2n ** 32n + 1n).toString()]);
    });

    it("refuses a prefix with braces, which would replace the queue hash tag", () => {
      expect(() => createKeys("a{}")).toThrow(RangeError);
      expect(createKeys("taskwire").pending("emails", "send")).toBe("taskwire:{q:emails}:pending:send");
      expect(createKeys("taskwire").pendingPrefix("emails")).toBe("taskwire:{q:emails}:pending:");
      expect(createKeys("taskwire").taskChannel("0190")).toBe("taskwire:task:0190");
      expect(createKeys("taskwire").serverControlChannel("s1")).toBe("taskwire:control:server:s1");
      expect(createKeys("taskwire").fleetControlChannel()).toBe("taskwire:control:fleet");
    });
  });

  describe("scripts", () => {
    it("reads the script files once per process", async () => {
      const first = await loadScriptSources();
      expect(await loadScriptSources()).toBe(first);
      expect([...first.values()].map((script) => script.commandName).sort()).toEqual([
        "taskwireClaimV2",
        "taskwireCountsV2",
        "taskwireEnqueueV2",
        "taskwireEpochSwapV2",
        "taskwireHoldDutyLeaseV2",
        "taskwireIndexMissingV2",
        "taskwireLeaseV2",
        "taskwirePromoteDueV2",
        "taskwirePublishV2",
        "taskwireReapExpiredV2",
        "taskwireReleaseDutyLeaseV2",
        "taskwireReleaseV2",
        "taskwireRemoveV2",
        "taskwireRenewV2",
        "taskwireRequeueV2",
        "taskwireScheduleV2",
      ]);
      for (const script of first.values()) {
        expect(script.lua).not.toContain("@include");
        expect(script.file).toMatch(new RegExp(`-${script.numberOfKeys}\\.lua$`));
      }
    });

    it("sends each script body once per connection, then EVALSHA", async () => {
      const { prefix } = space();
      const monitor = await testRedis().monitor();
      cleanups.push(async () => {
        monitor.disconnect();
      });
      const seen = new EventLog<string[]>();
      monitor.on("monitor", (_time: string, args: string[]) => {
        if (args.some((arg) => arg.startsWith(`${prefix}:`))) seen.push(args);
      });

      const broker = await brokerOn(prefix);
      for (let i = 0; i < 10; i++) await broker.enqueue([{ id: `t${i}`, queue: "q", type: T, priority: 0 }]);
      await Promise.all(Array.from({ length: 10 }, () => broker.claim("q", [T], 1, 1_000)));
      // MONITOR reports in execution order: once the SMEMBERS shows up, every script call has.
      await broker.queues();
      await seen.next((args) => args[0]?.toLowerCase() === "smembers" && args[1] === createKeys(prefix).queues());

      const calls = seen.values.filter((args) => /^eval/i.test(args[0] ?? ""));
      const evals = calls.filter((args) => args[0]?.toLowerCase() === "eval");
      expect(calls).toHaveLength(20);
      expect(evals).toHaveLength(2); // enqueue and claim, each on first use
    });
  });

  describe("between broker instances", () => {
    it("delivers wake-ups to another instance with the same prefix only", async () => {
      const { prefix } = space();
      const [sender, receiver] = await Promise.all([brokerOn(prefix), brokerOn(prefix)]);
      const elsewhere = await brokerOn(space().prefix);
      const wakes = new EventLog<string>();
      const otherWakes = new EventLog<string>();
      await receiver.onWake(wakes.push);
      await elsewhere.onWake(otherWakes.push);

      await sender.enqueue(entries("emails", 3));
      expect(await wakes.next()).toBe("emails");
      await elsewhere.enqueue([{ id: "x", queue: "barrier", type: T, priority: 0 }]);
      await otherWakes.next();
      expect(otherWakes.values).toEqual(["barrier"]);
      expect(await elsewhere.claim("emails", [T], 10, 1_000)).toEqual([]);
    });

    it("delivers task events to a subscriber on another instance, binary intact", async () => {
      const { prefix } = space();
      const [publisher, subscriber] = await Promise.all([brokerOn(prefix), brokerOn(prefix)]);
      const events = new EventLog<Uint8Array>();
      await subscriber.subscribeTaskEvents("0190b4c2-task", events.push);

      const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
      const invalidUtf8 = new Uint8Array([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1]);
      const view = new Uint8Array(everyByte.buffer, 10, 5); // a view into a larger buffer
      await publisher.publishTaskEvents([{ taskId: "0190b4c2-task", payload: everyByte }]);
      await publisher.publishTaskEvents([{ taskId: "0190b4c2-task", payload: invalidUtf8 }]);
      await publisher.publishTaskEvents([{ taskId: "0190b4c2-task", payload: view }]);
      await publisher.publishTaskEvents([{ taskId: "0190b4c2-task", payload: new Uint8Array(0) }]);

      await events.next((payload) => payload.length === 0);
      expect(events.values.map((payload) => Array.from(payload))).toEqual([
        Array.from(everyByte),
        Array.from(invalidUtf8),
        [10, 11, 12, 13, 14],
        [],
      ]);
    });

    it("delivers control messages to the addressed server's instance, and fleet messages to all", async () => {
      const { prefix } = space();
      const [sender, serverA, serverB] = await Promise.all([brokerOn(prefix), brokerOn(prefix), brokerOn(prefix)]);
      const elsewhere = await brokerOn(space().prefix);
      const [a, b, other] = [new EventLog<Uint8Array>(), new EventLog<Uint8Array>(), new EventLog<Uint8Array>()];
      await serverA.onControl("server-a", a.push);
      await serverB.onControl("server-b", b.push);
      await elsewhere.onControl("server-a", other.push);

      await sender.publishControl({ server: "server-a" }, new Uint8Array([0xff, 0x00, 1]));
      await sender.publishControl("fleet", new Uint8Array([2]));
      await a.next((payload) => payload[0] === 2);
      await b.next((payload) => payload[0] === 2);
      expect(a.values.map((payload) => Array.from(payload))).toEqual([[0xff, 0x00, 1], [2]]);
      expect(b.values.map((payload) => Array.from(payload))).toEqual([[2]]);
      await elsewhere.publishControl("fleet", new Uint8Array([3]));
      await other.next();
      expect(other.values.map((payload) => Array.from(payload))).toEqual([[3]]);
    });

    it("never hands out one id twice to two instances claiming in parallel", async () => {
      const { prefix } = space();
      const [first, second] = await Promise.all([brokerOn(prefix), brokerOn(prefix)]);
      const all = entries("q", 2_000);
      await first.enqueue(all);
      const [a, b] = await Promise.all([drain(first, "q", 5), drain(second, "q", 8)]);
      const union = [...a, ...b];
      expect(a.length).toBeGreaterThan(0);
      expect(b.length).toBeGreaterThan(0);
      expect(new Set(union).size).toBe(union.length);
      expect(union.sort()).toEqual(all.map((entry) => entry.id).sort());
    });
  });

  describe("when Redis cannot be reached", () => {
    it("refuses to connect with UnavailableError", async () => {
      const port = await freePort();
      const connecting = RedisBroker.connect({ url: `redis://127.0.0.1:${port}`, prefix: uniquePrefix(), logger: silentLogger() });
      await expect(connecting).rejects.toBeInstanceOf(UnavailableError);
      await expect(connecting).rejects.toMatchObject({ reason: "BROKER_UNAVAILABLE" });
    });

    it("fails ping and commands soon instead of queueing them", async () => {
      const { prefix } = space();
      const proxy = await startProxy(new URL(TEST_REDIS_URL));
      cleanups.push(() => proxy.close());
      const url = new URL(TEST_REDIS_URL);
      url.hostname = "127.0.0.1";
      url.port = String(proxy.port);
      const broker = await brokerOn(prefix, url.toString());
      await broker.ping();
      const wakes = new EventLog<string>();
      await broker.onWake(wakes.push);

      await proxy.close();
      const started = Date.now();
      await expect(broker.enqueue(entries("q", 1))).rejects.toMatchObject({ name: "UnavailableError", reason: "BROKER_UNAVAILABLE" });
      await expect(broker.ping()).rejects.toBeInstanceOf(UnavailableError);
      await expect(broker.subscribeTaskEvents("t", () => undefined)).rejects.toBeInstanceOf(UnavailableError);
      expect(Date.now() - started).toBeLessThan(10_000);
    });
  });

  describe("lifecycle", () => {
    it("refuses calls after close with SHUTTING_DOWN", async () => {
      const broker = await brokerOn(space().prefix);
      await broker.onWake(() => undefined);
      await Promise.all([broker.close(), broker.close()]);
      await expect(broker.ping()).rejects.toMatchObject({ reason: "SHUTTING_DOWN" });
      await expect(broker.claim("q", [T], 1, 1_000)).rejects.toMatchObject({ reason: "SHUTTING_DOWN" });
    });

    it("refuses priorities that would break the score", async () => {
      const broker = await brokerOn(space().prefix);
      await expect(broker.enqueue([{ id: "a", queue: "q", type: T, priority: PRIORITY_MAX + 1 }])).rejects.toThrow(RangeError);
      await expect(broker.enqueue([{ id: "a", queue: "q", type: T, priority: 1.5 }])).rejects.toThrow(RangeError);
      await expect(broker.enqueue([{ id: "a", queue: "bad}queue", type: T, priority: 0 }])).rejects.toThrow(RangeError);
    });
  });
});

/** A port nothing listens on. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}

/** A TCP proxy to Redis that a test can pull away, to play an outage with the real Redis. */
async function startProxy(target: URL): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connectTcp(Number(target.port || 6379), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  let closed: Promise<void> | undefined;
  return {
    port: address.port,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}
