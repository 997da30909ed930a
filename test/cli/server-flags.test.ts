import { describe, expect, it } from "vitest";
import { configOverrides, flagName, SERVER_FLAGS, serverAddress } from "../../src/cli/commands/server.js";
import { DEFAULTS, loadServerConfig, type ServerConfig } from "../../src/config/config.js";

/** A valid value for each setting, different from its default. */
const SAMPLES: Record<keyof ServerConfig, string> = {
  host: "0.0.0.0",
  port: "6001",
  redisUrl: "redis://127.0.0.1:6380",
  redisPrefix: "other",
  redisCluster: "on",
  databaseUrl: "postgres://u@h/db",
  databaseSchema: "other_schema",
  dataDir: "/tmp/other-data",
  databaseTimeoutMs: "3s",
  redisTimeoutMs: "2s",
  maxInputBytes: "2048",
  maxParents: "8",
  maxMessageBytes: "16777216",
  maxSubscribersPerTask: "50",
  maxSubscribersPerKey: "20",
  maxSubscribers: "200",
  maxHelloTypes: "10",
  maxDescriptorBytes: "65536",
  maxProgressBytes: "1024",
  maxProgressRate: "50",
  maxLogLineBytes: "1024",
  maxLogRate: "4096",
  maxContextBytes: "2048",
  maxTaskLogLines: "500",
  maxTaskLogBytes: "65536",
  maxStreamsPerConnection: "10",
  idleTimeoutMs: "30s",
  heartbeatIntervalMs: "2s",
  leaseTimeoutMs: "40s",
  timeoutGraceMs: "1s",
  shutdownGraceMs: "3s",
  retainFinishedMs: "30d",
  logLevel: "debug",
  logFormat: "json",
  corsOrigins: "https://app.example",
  apiKeysFile: "/etc/taskwire/keys",
  apiKeys: "ci:client:0000000000000000000000000000000000000000000000000000000000000000",
  auth: "off",
  tlsCert: "/etc/taskwire/cert.pem",
  tlsKey: "/etc/taskwire/key.pem",
  metricsAuth: "on",
  dashboard: "off",
  dashboardDir: "/srv/taskwire/ui",
};

describe("server flags", () => {
  it("cover every setting of ServerConfig", () => {
    const keys = Object.keys(loadServerConfig({})).sort();
    expect(SERVER_FLAGS.map((flag) => flag.key).sort()).toEqual(keys);
  });

  it.each(SERVER_FLAGS.map((flag) => [flag.env, flagName(flag.key), flag] as const))("%s is the variable of %s", (_env, _name, flag) => {
    const partner: Record<string, string> = {};
    const fromEnv = loadServerConfig({ ...partner, [flag.env]: SAMPLES[flag.key] });
    const attribute = flag.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const fromFlag = loadServerConfig(partner, configOverrides({ [attribute]: SAMPLES[flag.key] }));
    expect(fromEnv[flag.key]).not.toEqual(loadServerConfig({})[flag.key]);
    expect(fromEnv[flag.key]).toEqual(fromFlag[flag.key]);
  });

  it("are named as ConfigError messages name them", () => {
    expect(flagName("heartbeatIntervalMs")).toBe("--heartbeat-interval");
    expect(() => loadServerConfig({}, configOverrides({ heartbeatInterval: "x" }))).toThrow("(--heartbeat-interval)");
  });

  it("keep only the flags that were given", () => {
    expect(configOverrides({ port: "1", unrelated: "x", host: undefined })).toEqual({ port: "1" });
    expect(DEFAULTS.port).toBe(50051);
  });

  it("take a switch given bare as on (--redis-cluster)", () => {
    expect(configOverrides({ redisCluster: true })).toEqual({ redisCluster: "on" });
    expect(loadServerConfig({}, configOverrides({ redisCluster: true })).redisCluster).toBe(true);
  });

  it("print the address with brackets around IPv6 hosts", () => {
    expect(serverAddress("127.0.0.1", 50051)).toBe("http://127.0.0.1:50051");
    expect(serverAddress("::1", 1)).toBe("http://[::1]:1");
  });
});
