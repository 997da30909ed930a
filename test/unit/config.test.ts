import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULTS, loadServerConfig, parseDuration, storageMode } from "../../src/config/config.js";

describe("loadServerConfig", () => {
  it("applies defaults when nothing is set", () => {
    const config = loadServerConfig({});
    expect(config.port).toBe(DEFAULTS.port);
    expect(config.host).toBe("127.0.0.1");
    expect(config.redisUrl).toBeUndefined();
    expect(config.maxInputBytes).toBe(1024 * 1024);
  });

  it("reads environment variables and lets flags win", () => {
    const config = loadServerConfig(
      {
        TASKWIRE_PORT: "6000",
        TASKWIRE_REDIS_URL: "redis://127.0.0.1:6379",
        TASKWIRE_DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres",
        TASKWIRE_LEASE_TIMEOUT: "45s",
      },
      { port: "7000" },
    );
    expect(config.port).toBe(7000);
    expect(config.redisUrl).toBe("redis://127.0.0.1:6379");
    expect(config.leaseTimeoutMs).toBe(45_000);
  });

  it.each([
    [{ TASKWIRE_PORT: "70000" }, /TASKWIRE_PORT \(--port\) must be an integer from 0 to 65535/],
    [{ TASKWIRE_PORT: "abc" }, /TASKWIRE_PORT/],
    [{ TASKWIRE_REDIS_URL: "not a url" }, /TASKWIRE_REDIS_URL .* is not a URL/],
    [{ TASKWIRE_REDIS_URL: "redis://h", TASKWIRE_DATABASE_URL: "mysql://x" }, /must use postgres: or postgresql:/],
    [{ TASKWIRE_DATABASE_URL: "mysql://x" }, /TASKWIRE_DATABASE_URL .* must use postgres: or postgresql:/],
    [{ TASKWIRE_LEASE_TIMEOUT: "soon" }, /TASKWIRE_LEASE_TIMEOUT .* must be a duration/],
    [{ TASKWIRE_HEARTBEAT_INTERVAL: "10s", TASKWIRE_LEASE_TIMEOUT: "5s" }, /must be longer than/],
    [{ TASKWIRE_LOG_LEVEL: "loud" }, /TASKWIRE_LOG_LEVEL/],
    [{ TASKWIRE_DATABASE_SCHEMA: "Bad-Name" }, /TASKWIRE_DATABASE_SCHEMA/],
    [{ TASKWIRE_MAX_SUBSCRIBERS_PER_TASK: "0" }, /TASKWIRE_MAX_SUBSCRIBERS_PER_TASK \(--max-subscribers-per-task\) must be an integer from 1 to 1000000, got "0"/],
    [{ TASKWIRE_MAX_SUBSCRIBERS_PER_TASK: "2.5" }, /TASKWIRE_MAX_SUBSCRIBERS_PER_TASK .* got "2.5"/],
    [{ TASKWIRE_MAX_SUBSCRIBERS_PER_TASK: "lots" }, /TASKWIRE_MAX_SUBSCRIBERS_PER_TASK .* got "lots"/],
  ])("refuses %o naming the setting", (env, message) => {
    expect(() => loadServerConfig(env)).toThrow(ConfigError);
    expect(() => loadServerConfig(env)).toThrow(message);
  });

  it("limits the subscribers per task: 1000 by default, from the environment, the flag winning", () => {
    expect(loadServerConfig({}).maxSubscribersPerTask).toBe(1000);
    expect(DEFAULTS.maxSubscribersPerTask).toBe(1000);
    expect(loadServerConfig({ TASKWIRE_MAX_SUBSCRIBERS_PER_TASK: "25" }).maxSubscribersPerTask).toBe(25);
    expect(loadServerConfig({ TASKWIRE_MAX_SUBSCRIBERS_PER_TASK: "25" }, { maxSubscribersPerTask: "7" }).maxSubscribersPerTask).toBe(7);
  });
});

describe("parseDuration", () => {
  it.each([
    ["1500ms", 1500],
    ["1m30s", 90_000],
    ["10s", 10_000],
    ["1.5s", 1500],
    ["5m", 300_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
  ])("parses %s", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["", "-1s", "ten", "5 parsecs", "1e3", "1500"])("refuses %j", (text) => expect(parseDuration(text)).toBeUndefined());
});

describe("storage mode", () => {
  it("uses the embedded default when neither URL is set", () => {
    const config = loadServerConfig({ TASKWIRE_DATA_DIR: "/var/lib/taskwire" });
    expect(storageMode(config)).toEqual({ kind: "embedded", dataDir: "/var/lib/taskwire" });
    expect(loadServerConfig({}).dataDir).toBe("./.taskwire");
  });

  it("uses Redis and PostgreSQL when both URLs are set", () => {
    const config = loadServerConfig({ TASKWIRE_REDIS_URL: "redis://r", TASKWIRE_DATABASE_URL: "postgres://p/db" });
    expect(storageMode(config)).toEqual({ kind: "external", redisUrl: "redis://r", redisCluster: false, databaseUrl: "postgres://p/db" });
  });

  it("refuses one URL without the other, naming both", () => {
    expect(() => storageMode(loadServerConfig({ TASKWIRE_REDIS_URL: "redis://127.0.0.1:6379" }))).toThrow(
      /TASKWIRE_REDIS_URL \(--redis-url\) is set but TASKWIRE_DATABASE_URL \(--database-url\) is not/,
    );
    expect(() => storageMode(loadServerConfig({}, { databaseUrl: "postgres://h/db" }))).toThrow(
      /TASKWIRE_DATABASE_URL .* is set but TASKWIRE_REDIS_URL/,
    );
  });
});
