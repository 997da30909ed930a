import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { codeName, reportError, runCli } from "../../src/cli/run.js";
import { UsageError } from "../../src/cli/context.js";

/** Runs the CLI in memory; nothing here reaches a server except where a test asks for one. */
async function run(args: string[], env: Record<string, string | undefined> = {}) {
  let stdout = "";
  let stderr = "";
  const status = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env,
    cwd: process.cwd(),
    signal: new AbortController().signal,
  });
  return { status, stdout, stderr };
}

/** Nothing listens on port 1: calls fail at once with UNAVAILABLE. */
const NO_SERVER = "http://127.0.0.1:1";

describe("runCli", () => {
  it("prints help with the exit statuses and exits 0", async () => {
    const { status, stdout } = await run(["--help"]);
    expect(status).toBe(0);
    expect(stdout).toContain("Usage: taskwire");
    expect(stdout).toContain("3    the task failed");
  });

  it("exits 2 with commander's message on bad flags", async () => {
    const delay = await run(["submit", "examples.flaky", "--delay", "soon"]);
    expect(delay.status).toBe(2);
    expect(delay.stderr).toContain("option '--delay <duration>' argument 'soon' is invalid");

    const both = await run(["submit", "x", "--delay", "1s", "--run-at", "2030-01-01T00:00:00Z"]);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain("cannot be used with option '--run-at <time>'");

    expect((await run(["submit"])).status).toBe(2);
    expect((await run(["frobnicate"])).status).toBe(2);
    expect((await run(["tasks", "list", "--state", "done"])).status).toBe(2);
    expect((await run(["--protocol", "carrier-pigeon", "types"])).status).toBe(2);
  });

  it("exits 2 on bad server configuration, before starting anything", async () => {
    const port = await run(["server", "--port", "99999"]);
    expect(port.status).toBe(2);
    expect(port.stderr).toBe('error: TASKWIRE_PORT (--port) must be an integer from 0 to 65535, got "99999"\n');

    const env = await run(["server"], { TASKWIRE_REDIS_URL: "http://nope" });
    expect(env.status).toBe(2);
    expect(env.stderr).toContain("TASKWIRE_REDIS_URL (--redis-url) must use redis: or rediss:");
  });

  it("exits 2 when the server gets one storage URL without the other", async () => {
    const { status, stderr } = await run(["server"], { TASKWIRE_DATABASE_URL: "postgres://127.0.0.1:1/none" });
    expect(status).toBe(2);
    expect(stderr).toContain("TASKWIRE_DATABASE_URL (--database-url) is set but TASKWIRE_REDIS_URL (--redis-url) is not");
  });

  it("exits 2 when the worker's task module is missing or defines no task", async () => {
    const missing = await run(["--url", NO_SERVER, "worker", "start", "--tasks", "examples/nope.ts"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("cannot find the task module examples/nope.ts");

    const empty = await run(["--url", NO_SERVER, "worker", "start", "--tasks", "src/core/limits.ts"]);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toContain("exports no task definitions");

    const connect = await run(["--url", NO_SERVER, "--protocol", "connect", "worker", "start", "--tasks", "examples/tasks.ts"]);
    expect(connect.status).toBe(2);
  });

  it("prints a ConnectError as its code and message and exits 1", async () => {
    const { status, stderr } = await run(["--url", NO_SERVER, "status", "some-id"]);
    expect(status).toBe(1);
    expect(stderr).toMatch(/^error: UNAVAILABLE: .*\(is a Taskwire server running at http:\/\/127\.0\.0\.1:1\?\)\n$/);
  });

  it("takes the URL from TASKWIRE_URL", async () => {
    const previous = process.env["TASKWIRE_URL"];
    process.env["TASKWIRE_URL"] = NO_SERVER;
    try {
      const { stderr } = await run(["--protocol", "connect", "types"]);
      expect(stderr).toContain("running at http://127.0.0.1:1?");
    } finally {
      if (previous === undefined) delete process.env["TASKWIRE_URL"];
      else process.env["TASKWIRE_URL"] = previous;
    }
  });
});

describe("reportError", () => {
  const capture = (aborted = false) => {
    let stderr = "";
    const controller = new AbortController();
    if (aborted) controller.abort();
    return { ctx: { stderr: { write: (text: string) => (stderr += text) }, signal: controller.signal }, out: () => stderr };
  };

  it("maps errors to exit statuses", () => {
    const url = () => "http://x";
    const usage = capture();
    expect(reportError(new UsageError("bad"), usage.ctx, url)).toBe(2);
    expect(usage.out()).toBe("error: bad\n");

    const rpc = capture();
    expect(reportError(new ConnectError("no such task", Code.NotFound), rpc.ctx, url)).toBe(1);
    expect(rpc.out()).toBe("error: NOT_FOUND: no such task\n");

    const interrupted = capture(true);
    expect(reportError(new ConnectError("aborted", Code.Canceled), interrupted.ctx, url)).toBe(130);
    expect(interrupted.out()).toBe("");
  });

  it("spells codes the gRPC way", () => {
    expect(codeName(Code.FailedPrecondition)).toBe("FAILED_PRECONDITION");
    expect(codeName(Code.InvalidArgument)).toBe("INVALID_ARGUMENT");
    expect(codeName(Code.Unavailable)).toBe("UNAVAILABLE");
  });
});
