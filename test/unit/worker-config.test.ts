import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config.js";
import { loadWorkerConfig, WORKER_SETTINGS } from "../../src/config/worker-config.js";

describe("loadWorkerConfig", () => {
  it("reads every setting from its environment variable", () => {
    const config = loadWorkerConfig({
      TASKWIRE_TASKS: "tasks/a.js, tasks/b.ts",
      TASKWIRE_QUEUES: "high_priority,default",
      TASKWIRE_CONCURRENCY: "4",
      TASKWIRE_PREFETCH: "2",
      TASKWIRE_BURST: "on",
      TASKWIRE_WORKER_ID: "worker-1",
      TASKWIRE_SHUTDOWN_GRACE: "25s",
      TASKWIRE_METRICS_PORT: "9464",
      TASKWIRE_METRICS_HOST: "0.0.0.0",
      TASKWIRE_LOG_LEVEL: "warn",
      TASKWIRE_LOG_FORMAT: "json",
    });
    expect(config).toEqual({
      tasks: ["tasks/a.js", "tasks/b.ts"],
      queues: ["high_priority", "default"],
      concurrency: 4,
      prefetch: 2,
      burst: true,
      workerId: "worker-1",
      shutdownGraceMs: 25_000,
      metricsPort: 9464,
      metricsHost: "0.0.0.0",
      logLevel: "warn",
      logFormat: "json",
    });
  });

  it("lets flags win and leaves what neither gives to the SDK's defaults", () => {
    const config = loadWorkerConfig({ TASKWIRE_TASKS: "env.js", TASKWIRE_CONCURRENCY: "4", TASKWIRE_BURST: "off" }, { tasks: ["flag.js"], concurrency: 8 });
    expect(config).toMatchObject({ tasks: ["flag.js"], concurrency: 8, burst: false, prefetch: undefined, queues: undefined, logLevel: "info", logFormat: "auto" });
  });

  it("names the bad variable", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ TASKWIRE_CONCURRENCY: "0" }, /TASKWIRE_CONCURRENCY must be an integer from 1 to 100000, got "0"/],
      [{ TASKWIRE_PREFETCH: "many" }, /TASKWIRE_PREFETCH must be an integer/],
      [{ TASKWIRE_QUEUES: "high priority" }, /TASKWIRE_QUEUES must be queue names .*got "high priority"/],
      [{ TASKWIRE_QUEUES: "a,a" }, /TASKWIRE_QUEUES must be queue names listed once each/],
      [{ TASKWIRE_QUEUES: " , " }, /TASKWIRE_QUEUES must be a comma-separated list/],
      [{ TASKWIRE_BURST: "maybe" }, /TASKWIRE_BURST must be on or off/],
      [{ TASKWIRE_SHUTDOWN_GRACE: "10" }, /TASKWIRE_SHUTDOWN_GRACE must be/],
      [{ TASKWIRE_METRICS_PORT: "70000" }, /TASKWIRE_METRICS_PORT must be an integer from 0 to 65535/],
      [{ TASKWIRE_LOG_LEVEL: "loud" }, /TASKWIRE_LOG_LEVEL must be one of fatal, error/],
      [{ TASKWIRE_LOG_FORMAT: "xml" }, /TASKWIRE_LOG_FORMAT must be one of auto, pretty, json/],
    ];
    for (const [env, message] of cases) {
      expect(() => loadWorkerConfig({ TASKWIRE_TASKS: "tasks.js", ...env })).toThrow(message);
    }
  });

  it("requires task modules from the flag or the variable", () => {
    expect(() => loadWorkerConfig({})).toThrow(ConfigError);
    expect(() => loadWorkerConfig({ TASKWIRE_TASKS: "" })).toThrow(/no task modules: give --tasks <module> \(repeatable\) or TASKWIRE_TASKS/);
  });

  it("has one TASKWIRE_ variable per setting", () => {
    const names = Object.values(WORKER_SETTINGS).map((setting) => setting.env);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^TASKWIRE_[A-Z_]+$/);
  });
});
