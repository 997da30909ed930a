/**
 * `taskwire limits list|set|clear` against a fake AdminService on a real port: what each asks the
 * server, what it prints, and the flags it refuses before sending anything. The real server is
 * in `test/e2e/limits.test.ts`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SetLimitRequest, ClearLimitRequest } from "../../gen/taskwire/v1/admin_service_pb.js";
import { runCli } from "../../src/cli/run.js";
import { startFakeAdminServer } from "../support/fake-admin.js";

let fake: Awaited<ReturnType<typeof startFakeAdminServer>>;

beforeAll(async () => {
  fake = await startFakeAdminServer();
});

afterAll(async () => {
  await fake?.close();
});

beforeEach(() => {
  fake.calls.length = 0;
});

async function run(...args: string[]) {
  let stdout = "";
  let stderr = "";
  const status = await runCli(["--url", fake.url, ...args], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
    cwd: process.cwd(),
    signal: new AbortController().signal,
  });
  return { status, stdout, stderr };
}

describe("limits", () => {
  it("lists the limits as a table", async () => {
    const listed = await run("limits", "list");
    expect(listed.status).toBe(0);
    expect(listed.stdout.split("\n")[0]).toMatch(/^TARGET\s+IN FORCE\s+DECLARED\s+SET BY AN OPERATOR$/);
    expect(listed.stdout).toContain("type mirror.repository");
    expect(listed.stdout).toContain("concurrency 10, per key 2");
    expect(listed.stdout).toMatch(/queue email\s+rate 10\/1s/);
  });

  it("sets only the flags given, with rates in the durations grammar", async () => {
    const set = await run("limits", "set", "--type", "mirror.repository", "--concurrency", "5", "--key-rate", "10/s", "--rate", "100/1m");
    expect(set.status, set.stderr).toBe(0);
    const request = fake.calls[0]?.request as SetLimitRequest;
    expect(request.target).toEqual({ case: "type", value: "mirror.repository" });
    expect(request.limits?.concurrency).toBe(5);
    expect(request.limits?.perKey).toBeUndefined();
    expect(request.limits?.keyRate).toMatchObject({ count: 10, interval: { seconds: 1n } });
    expect(request.limits?.rate).toMatchObject({ count: 100, interval: { seconds: 60n } });
    expect(set.stdout).toBe("limits of type mirror.repository: concurrency 5, rate 100/1m, key rate 10/1s\n");
  });

  it("clears a queue's limits", async () => {
    const cleared = await run("limits", "clear", "--queue", "email");
    expect(cleared.status).toBe(0);
    expect((fake.calls[0]?.request as ClearLimitRequest).target).toEqual({ case: "queue", value: "email" });
    expect(cleared.stdout).toBe("cleared the limits set on queue email; in force: -\n");
  });

  it("refuses bad flags before sending anything", async () => {
    for (const args of [
      ["limits", "set", "--type", "t", "--concurrency", "-1"],
      ["limits", "set", "--type", "t", "--per-key", "1.5"],
      ["limits", "set", "--type", "t", "--rate", "10"],
      ["limits", "set", "--type", "t", "--rate", "10/fortnight"],
      ["limits", "set", "--type", "t"],
      ["limits", "set", "--concurrency", "1"],
      ["limits", "set", "--type", "t", "--queue", "q", "--concurrency", "1"],
      ["limits", "clear"],
    ]) {
      const refused = await run(...args);
      expect(refused.status, args.join(" ")).toBe(2);
      expect(refused.stderr, args.join(" ")).not.toBe("");
    }
    expect(fake.calls).toEqual([]);
  });
});
