import { describe, expect, it } from "vitest";
import { keySlot, tagForSlot } from "../../src/broker/redis/cluster-slot.js";
import { redactUrl } from "../../src/broker/redis/connection.js";
import { parseRedisTarget } from "../../src/broker/redis/redis-target.js";
import { loadServerConfig, storageMode } from "../../src/config/config.js";

describe("Redis URL", () => {
  it("names one Redis unless it says cluster", () => {
    expect(parseRedisTarget("redis://127.0.0.1:6379/2", false)).toEqual({ kind: "single", url: "redis://127.0.0.1:6379/2" });
  });

  it("names the seed nodes of a cluster, with credentials and TLS", () => {
    expect(parseRedisTarget("rediss+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002", false)).toEqual({
      kind: "cluster",
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
        { host: "::1", port: 7002 },
      ],
      username: "app",
      password: "s@cret",
      tls: true,
    });
  });

  it("takes a plain URL as one seed node when the cluster setting is on (port 6379 when none)", () => {
    expect(parseRedisTarget("redis://:pw@cache.internal", true)).toEqual({
      kind: "cluster",
      nodes: [{ host: "cache.internal", port: 6379 }],
      username: undefined,
      password: "pw",
      tls: false,
    });
  });

  it.each([
    ["redis+cluster://h:7000/3", /database 3: a Redis Cluster has only database 0/],
    ["redis+cluster://h:99999", /port 99999/],
    ["redis+cluster://h:7000,,h:7001", /not host:port/],
    ["http+cluster://h:7000", /must start with redis:\/\//],
  ])("refuses %s", (url, message) => {
    expect(() => parseRedisTarget(url, false)).toThrow(message);
  });

  it("hides the password of a cluster URL in messages", () => {
    expect(redactUrl("redis+cluster://app:secret@h1:7000,h2:7001")).toBe("redis+cluster://app:***@h1:7000,h2:7001");
    expect(redactUrl("redis://h:6379")).toBe("redis://h:6379");
  });
});

describe("Redis Cluster configuration", () => {
  const storage = { TASKWIRE_DATABASE_URL: "postgres://p/db" };

  it("turns the cluster on from a redis+cluster:// URL", () => {
    const config = loadServerConfig({ ...storage, TASKWIRE_REDIS_URL: "redis+cluster://a:7000,b:7001" });
    expect(storageMode(config)).toMatchObject({ kind: "external", redisUrl: "redis+cluster://a:7000,b:7001", redisCluster: true });
  });

  it("turns the cluster on for a redis:// URL with TASKWIRE_REDIS_CLUSTER=on, off by default", () => {
    expect(loadServerConfig({ ...storage, TASKWIRE_REDIS_URL: "redis://a:7000", TASKWIRE_REDIS_CLUSTER: "on" }).redisCluster).toBe(true);
    expect(loadServerConfig({ ...storage, TASKWIRE_REDIS_URL: "redis://a:7000" }).redisCluster).toBe(false);
  });

  it.each([
    [{ TASKWIRE_REDIS_URL: "redis+cluster://a:7000/1" }, /TASKWIRE_REDIS_URL \(--redis-url\) names database 1/],
    [{ TASKWIRE_REDIS_URL: "redis+cluster://a:0" }, /TASKWIRE_REDIS_URL \(--redis-url\) names a node with port 0/],
    [{ TASKWIRE_REDIS_CLUSTER: "yes" }, /TASKWIRE_REDIS_CLUSTER \(--redis-cluster\) must be on or off, got "yes"/],
    [{ TASKWIRE_REDIS_URL: "http://a" }, /must use redis: or rediss: or redis\+cluster: or rediss\+cluster:/],
  ])("refuses %o naming the setting", (env, message) => {
    expect(() => loadServerConfig(env)).toThrow(message);
  });
});

describe("cluster slots", () => {
  it("hash like CLUSTER KEYSLOT, hash tags included", () => {
    // Values from Redis' own documentation and `CLUSTER KEYSLOT`.
    expect(keySlot("123456789")).toBe(12739);
    expect(keySlot("foo")).toBe(12182);
    expect(keySlot("{user1000}.following")).toBe(keySlot("user1000"));
    expect(keySlot("foo{}{bar}")).toBe(keySlot("foo{}{bar}")); // an empty first tag: the whole key
  });

  it("find a tag for any slot", () => {
    for (const slot of [0, 1, 8191, 16383]) expect(keySlot(`x:{${tagForSlot(slot)}}:y`)).toBe(slot);
    expect(() => tagForSlot(16384)).toThrow(RangeError);
  });
});
