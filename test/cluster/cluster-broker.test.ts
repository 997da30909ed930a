/**
 * The Redis broker on a real Redis Cluster of three masters that this file starts itself
 * (`test/support/redis-cluster.ts`): the whole broker contract, then what only a cluster
 * shows: the keys of one queue in one slot while queues spread over every master, the hash
 * function the broker uses agreeing with the cluster's, task events over sharded pub/sub on
 * every master, and an index marker that notices a single master losing its data.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis, type Cluster } from "ioredis";
import { keySlot } from "../../src/broker/redis/cluster-slot.js";
import { createKeys } from "../../src/broker/redis/keys.js";
import { RedisBroker } from "../../src/broker/redis/redis-broker.js";
import { silentLogger } from "../../src/core/logger.js";
import { describeBrokerContract, drain, entries, EventLog, T } from "../broker/contract.js";
import { cleanupsAfterEach } from "../support/cleanups.js";
import { uniquePrefix } from "../support/redis.js";
import { startRedisCluster, type TestRedisCluster } from "../support/redis-cluster.js";

let cluster: TestRedisCluster;
let inspector: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
  inspector = cluster.client();
}, 60_000);

afterAll(async () => {
  inspector?.disconnect();
  await cluster?.stop();
}, 60_000);

/** Deletes every key under `prefix`, on every master. */
async function deletePrefix(prefix: string): Promise<void> {
  const keys = await cluster.keysWithPrefix(prefix);
  // One DEL per key: a DEL of several keys must stay within one slot.
  await Promise.all(keys.map((key) => inspector.del(key)));
}

describeBrokerContract("RedisBroker on a Redis Cluster", async () => {
  const prefix = uniquePrefix();
  const broker = await RedisBroker.connect({ url: cluster.url, prefix, logger: silentLogger() });
  return {
    broker,
    cleanup: async () => {
      await broker.close();
      await deletePrefix(prefix);
    },
  };
});

describe("RedisBroker on a Redis Cluster", () => {
  const cleanups = cleanupsAfterEach();

  async function brokerIn(prefix = uniquePrefix(), url = cluster.url, clusterSetting = false): Promise<RedisBroker> {
    const broker = await RedisBroker.connect({ url, cluster: clusterSetting, prefix, logger: silentLogger() });
    cleanups.push(async () => {
      await broker.close();
      await deletePrefix(prefix);
    });
    return broker;
  }

  /** The port of the master serving `key`'s slot. */
  async function masterOf(key: string): Promise<number> {
    const slot = Number(await inspector.cluster("KEYSLOT", key));
    const ranges = await inspector.cluster("SLOTS");
    const port = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
    if (port === undefined) throw new Error(`no master serves slot ${slot}`);
    return port;
  }

  it("hashes keys as the cluster does (CLUSTER KEYSLOT)", async () => {
    const samples = ["taskwire:{q:default}:leases", "taskwire:epoch:v2", "a{}{b}", "{}", "x{y", "päckchen:{q:ü}:seq", `taskwire:task:${randomUUID()}`];
    for (const key of samples) expect(keySlot(key)).toBe(Number(await inspector.cluster("KEYSLOT", key)));
  });

  it("keeps every key of one queue in one slot, and spreads queues over every master", async () => {
    const prefix = uniquePrefix();
    const broker = await brokerIn(prefix);
    const queues = Array.from({ length: 24 }, (_, i) => `queue-${i}`);
    const now = Date.now();
    for (const queue of queues) {
      await broker.enqueue([...entries(queue, 3, 0, `${queue}-a`), ...entries(queue, 2, -1, `${queue}-b`, "other")]);
      await broker.schedule([{ id: `${queue}-later`, queue, type: T, priority: 0, runAt: now + 3_600_000 }]);
      expect(await broker.claim(queue, [T, "other"], 2, now + 60_000)).toHaveLength(2);
    }
    const keys = await cluster.keysWithPrefix(prefix);
    const keysOf = new Map<string, string[]>();
    for (const key of keys) {
      const queue = /\{q:([^}]+)\}/.exec(key)?.[1];
      if (queue !== undefined) keysOf.set(queue, [...(keysOf.get(queue) ?? []), key]);
    }
    const built = createKeys(prefix);
    const masters = new Set<number>();
    for (const queue of queues) {
      const own = keysOf.get(queue) ?? [];
      // pending:job, pending:other, types, seq, delayed, leases
      expect(own.sort()).toEqual(
        [built.pending(queue, T), built.pending(queue, "other"), built.types(queue), built.seq(queue), built.delayed(queue), built.leases(queue)].sort(),
      );
      expect(new Set(own.map(keySlot)).size).toBe(1);
      masters.add(await masterOf(built.leases(queue)));
    }
    expect(masters.size).toBe(3);
    expect((await broker.queues()).filter((queue) => queue.startsWith("queue-"))).toHaveLength(queues.length);
    expect(await broker.counts("queue-7")).toEqual({ pending: 3, delayed: 1, leased: 2 });
  });

  it("runs every script on every master: enqueue, claim, lease, reap, requeue, remove, promote, index", async () => {
    const broker = await brokerIn();
    const queues = Array.from({ length: 12 }, (_, i) => `spread-${i}`);
    await broker.enqueue(queues.flatMap((queue) => entries(queue, 4, 0, queue)));
    for (const queue of queues) {
      const claimed = await broker.claim(queue, [T], 2, 1_000);
      expect(claimed).toEqual([`${queue}-0`, `${queue}-1`]);
      await broker.renew([{ id: `${queue}-0`, queue }], 2_000);
      expect(await broker.reapExpired(queue, 1_500, 10, 90_000)).toEqual([`${queue}-1`]);
      await broker.requeue([{ id: `${queue}-1`, queue, type: T, priority: 9 }]);
      await broker.remove([{ id: `${queue}-2`, queue, type: T, priority: 0 }]);
      await broker.release([{ id: `${queue}-0`, queue }]);
      await broker.schedule([{ id: `${queue}-due`, queue, type: T, priority: 0, runAt: 10 }]);
      expect((await broker.promoteDue(queue, 20, 10)).promoted).toEqual([`${queue}-due`]);
      expect(await broker.indexMissing([{ id: `${queue}-lost`, queue, type: T, priority: 0 }])).toBe(1);
      expect(await drain(broker, queue)).toEqual([`${queue}-1`, `${queue}-3`, `${queue}-due`, `${queue}-lost`]);
    }
  });

  it("runs scripts that touch the keys of one slot only, the slot of their declared KEYS (MONITOR on every master)", async () => {
    const nodes = cluster.ports.map((port) => new Redis({ port, host: "127.0.0.1" }));
    const monitors = await Promise.all(nodes.map((node) => node.monitor()));
    cleanups.push(async () => {
      for (const connection of [...monitors, ...nodes]) connection.disconnect();
    });
    /** Per master, the scripts run: the EVALSHA/EVAL line, then the commands it ran. */
    const runs: { call: string[]; commands: string[][] }[] = [];
    for (const monitor of monitors) {
      let current: { call: string[]; commands: string[][] } | undefined;
      monitor.on("monitor", (_time: string, args: string[], source: string) => {
        const name = args[0]?.toUpperCase() ?? "";
        if (source === "lua") current?.commands.push(args);
        else if (name === "EVALSHA" || name === "EVAL") {
          current = { call: args, commands: [] };
          runs.push(current);
        } else current = undefined;
      });
    }
    const prefix = uniquePrefix();
    const broker = await brokerIn(prefix);
    const queues = Array.from({ length: 9 }, (_, i) => `mon-${i}`);
    for (const queue of queues) {
      await broker.enqueue([...entries(queue, 3, 0, `${queue}-a`), ...entries(queue, 1, 0, `${queue}-b`, "other")]);
      await broker.claim(queue, [T, "other"], 3, 1_000);
      await broker.renew([{ id: `${queue}-a-0`, queue }], 2_000);
      await broker.lease([{ id: `${queue}-x`, queue }], 2_000);
      await broker.reapExpired(queue, 1_500, 10, 90_000);
      await broker.requeue([{ id: `${queue}-a-1`, queue, type: T, priority: 0, runAt: Date.now() + 3_600_000 }]);
      await broker.remove([{ id: `${queue}-a-1`, queue, type: T, priority: 0 }]);
      await broker.release([{ id: `${queue}-a-0`, queue }]);
      await broker.schedule([{ id: `${queue}-due`, queue, type: T, priority: 0, runAt: 10 }]);
      await broker.promoteDue(queue, 20, 10);
      await broker.indexMissing([{ id: `${queue}-lost`, queue, type: T, priority: 0 }]);
      await broker.counts(queue);
    }
    await broker.holdDutyLease("reaper", "me", 10_000);
    await broker.releaseDutyLease("reaper", "me");
    await broker.beginRebuild("t", 10_000);
    await broker.extendRebuild("t", 10_000);
    await broker.endRebuild("t", "ready");
    // A plain command after the workload, so that every master's MONITOR has shown the last script.
    await Promise.all(nodes.map((node) => node.ping()));
    await new Promise<void>((resolve) => setImmediate(resolve));

    const ours = runs.filter((run) => run.call.some((arg) => arg.startsWith(`${prefix}:`)));
    // 12 script calls per queue; the duty lease twice, the epoch swap twice (extend, end).
    expect(ours.length).toBe(queues.length * 12 + 4);
    for (const { call, commands } of ours) {
      const numberOfKeys = Number(call[2]);
      const declared = call.slice(3, 3 + numberOfKeys);
      expect(declared.length).toBeGreaterThan(0);
      // Every command of a script takes its key first; PUBLISH takes a channel, which is no key.
      const touched = commands.filter(([name]) => name?.toUpperCase() !== "PUBLISH").map(([, key]) => key ?? "");
      expect(touched.length).toBeGreaterThan(0);
      const slots = new Set([...declared, ...touched].map(keySlot));
      expect({ declared, touched, slots: slots.size }).toMatchObject({ slots: 1 });
    }
  });

  it("takes a redis:// URL of one node with the cluster setting on", async () => {
    const [port] = cluster.ports;
    const broker = await brokerIn(uniquePrefix(), `redis://127.0.0.1:${port}`, true);
    const queues = Array.from({ length: 8 }, (_, i) => `seeded-${i}`);
    await broker.enqueue(queues.flatMap((queue) => entries(queue, 1, 0, queue)));
    for (const queue of queues) expect(await drain(broker, queue)).toEqual([`${queue}-0`]);
  });

  it("delivers task events of tasks in every slot over sharded pub/sub, and wake-ups and control over plain pub/sub", async () => {
    const publisher = await brokerIn();
    const prefix = uniquePrefix();
    const follower = await brokerIn(prefix);
    const ids: string[] = Array.from({ length: 30 }, () => randomUUID());
    const logs = new Map(ids.map((id) => [id, new EventLog<string>()]));
    const unsubscribes = await Promise.all(ids.map((id) => follower.subscribeTaskEvents(id, (payload) => logs.get(id)?.push(Buffer.from(payload).toString()))));
    // Another prefix's broker publishes nothing this one hears: same channels only within a prefix.
    const same = await brokerIn(prefix);
    await same.publishTaskEvents(ids.flatMap((taskId) => [1, 2].map((n) => ({ taskId, payload: Buffer.from(`${taskId}:${n}`) }))));
    for (const id of ids) {
      await logs.get(id)?.next((value) => value === `${id}:2`);
      expect(logs.get(id)?.values).toEqual([`${id}:1`, `${id}:2`]);
    }
    const masters = new Set(await Promise.all(ids.map((id) => masterOf(createKeys(prefix).taskChannel(id)))));
    expect(masters.size).toBe(3);
    await publisher.publishTaskEvents([{ taskId: ids[0] ?? "", payload: Buffer.from("other prefix") }]);

    const wakes = new EventLog<string>();
    await follower.onWake(wakes.push);
    await same.enqueue(entries("woken", 1));
    await wakes.next((queue) => queue === "woken");

    const control = new EventLog<string>();
    await follower.onControl("server-1", (payload) => control.push(Buffer.from(payload).toString()));
    await same.publishControl({ server: "server-1" }, Buffer.from("to one"));
    await same.publishControl("fleet", Buffer.from("to all"));
    await control.next((value) => value === "to all");
    expect(control.values).toEqual(["to one", "to all"]);

    await Promise.all(unsubscribes.map((unsubscribe) => unsubscribe()));
    await same.publishTaskEvents([{ taskId: ids[0] ?? "", payload: Buffer.from("after unsubscribe") }]);
    await same.publishControl("fleet", Buffer.from("sync"));
    await control.next((value) => value === "sync");
    expect(logs.get(ids[0] ?? "")?.values).toEqual([`${ids[0]}:1`, `${ids[0]}:2`]);
  });

  it("counts the index as lost when one master loses its data while the marker's master keeps it", async () => {
    const prefix = uniquePrefix();
    const broker = await brokerIn(prefix);
    const keys = createKeys(prefix);
    expect(await broker.readEpoch()).toBeNull();
    expect(await broker.beginRebuild("first", 30_000)).toBe(true);
    expect(await broker.endRebuild("first", "ready")).toBe(true);
    expect(await broker.readEpoch()).toEqual({ state: "ready", token: "first" });
    // A copy of the token on every master.
    const copies = (await cluster.keysWithPrefix(prefix)).filter((key) => key.endsWith(":epoch:v2") && key !== keys.epoch());
    expect(new Set(await Promise.all(copies.map(masterOf))).size).toBe(3);

    // Flush a master that does not hold the marker itself.
    const markerMaster = await masterOf(keys.epoch());
    let victim: string | undefined;
    for (const key of copies) if ((await masterOf(key)) !== markerMaster) victim = key;
    if (victim === undefined) throw new Error("every copy on the marker's master");
    await cluster.flushNodeOf(victim);
    expect(await inspector.get(keys.epoch())).toBe("ready:first");
    expect(await broker.readEpoch()).toBeNull();

    // One server takes the rebuild over (compare-and-set), another is refused.
    const rival = await brokerIn(prefix);
    expect(await broker.beginRebuild("second", 30_000)).toBe(true);
    expect(await rival.beginRebuild("third", 30_000)).toBe(false);
    expect(await broker.readEpoch()).toEqual({ state: "rebuilding", token: "second" });
    expect(await broker.endRebuild("second", "ready")).toBe(true);
    expect(await rival.readEpoch()).toEqual({ state: "ready", token: "second" });
  });

  // Last: it stops the cluster.
  it("fails commands, ping and subscriptions soon with UNAVAILABLE once every node is down", async () => {
    const broker = await RedisBroker.connect({ url: cluster.url, prefix: uniquePrefix(), logger: silentLogger(), commandTimeoutMs: 1_000 });
    cleanups.push(() => broker.close());
    await broker.ping();
    await broker.onWake(() => undefined);
    await broker.subscribeTaskEvents("before", () => undefined);
    inspector.disconnect();
    await cluster.stop();
    const started = Date.now();
    await expect(broker.enqueue(entries("q", 1))).rejects.toMatchObject({ name: "UnavailableError", reason: "BROKER_UNAVAILABLE" });
    await expect(broker.claim("q", [T], 1, 1_000)).rejects.toMatchObject({ name: "UnavailableError", reason: "BROKER_UNAVAILABLE" });
    await expect(broker.readEpoch()).rejects.toMatchObject({ name: "UnavailableError", reason: "BROKER_UNAVAILABLE" });
    await expect(broker.ping()).rejects.toMatchObject({ name: "UnavailableError" });
    await expect(broker.subscribeTaskEvents("after", () => undefined)).rejects.toMatchObject({ name: "UnavailableError", reason: "BROKER_UNAVAILABLE" });
    await expect(broker.publishTaskEvents([{ taskId: "after", payload: Buffer.from("x") }])).rejects.toMatchObject({ name: "UnavailableError" });
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 60_000);

  it("fails to connect with UNAVAILABLE when no seed node answers", async () => {
    await expect(RedisBroker.connect({ url: "redis+cluster://127.0.0.1:1", prefix: uniquePrefix(), logger: silentLogger() })).rejects.toMatchObject({
      name: "UnavailableError",
      reason: "BROKER_UNAVAILABLE",
      message: expect.stringContaining("cannot connect to Redis at redis+cluster://127.0.0.1:1"),
    });
  });
});
