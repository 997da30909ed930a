import { describe, expect, it } from "vitest";
import { dropSchema, TEST_DATABASE_URL, uniqueSchemaName } from "../support/database.js";
import { runCli } from "../support/server.js";

describe("taskwire server on a Redis Cluster: bad settings", () => {
  it("exits 2 naming the setting when a cluster URL names a database", async () => {
    const { code, stderr } = await runCli(["server", "--redis-url", "redis+cluster://127.0.0.1:7000,127.0.0.1:7001/2", "--database-url", "postgres://127.0.0.1:1/none"]);
    expect(code).toBe(2);
    expect(stderr).toContain("TASKWIRE_REDIS_URL (--redis-url) names database 2: a Redis Cluster has only database 0");
  });

  it("exits 2 on a --redis-cluster value other than on or off", async () => {
    const { code, stderr } = await runCli(["server", "--redis-url", "redis://127.0.0.1:7000", "--redis-cluster", "yes"]);
    expect(code).toBe(2);
    expect(stderr).toContain('TASKWIRE_REDIS_CLUSTER (--redis-cluster) must be on or off, got "yes"');
  });

  it("exits 1 with one line when no seed node answers (the bare --redis-cluster flag)", async () => {
    const schema = uniqueSchemaName();
    try {
      const { code, stderr } = await runCli(
        ["server", "--port", "0", "--redis-url", "redis://127.0.0.1:1", "--redis-cluster", "--database-url", TEST_DATABASE_URL, "--database-schema", schema],
      );
      expect(code).toBe(1);
      expect(stderr).toContain("cannot reach Redis at redis://127.0.0.1:1: None of startup nodes is available (is it running?");
    } finally {
      await dropSchema(schema);
    }
  }, 60_000);
});
