/**
 * The fleet commands (`workers`, `servers`, `queues`, `queue …`, `tasks count|retry|cancel|delete`)
 * run in memory against a fake AdminService on a real port: what each prints, what it asks the
 * server, and the aliases. The real server is in `test/e2e/cli-admin.test.ts`.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  CountGroup,
  type CancelTasksRequest,
  type CountTasksRequest,
  type PurgeQueueRequest,
  type RetryTasksRequest,
} from "../../gen/taskwire/v1/admin_service_pb.js";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import { runCli } from "../../src/cli/run.js";
import { startFakeAdminServer, type RecordedCall } from "../support/fake-admin.js";

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

function only(method: string): RecordedCall["request"] {
  expect(fake.calls.map((call) => call.method)).toEqual([method]);
  return fake.calls[0]?.request as RecordedCall["request"];
}

describe("workers", () => {
  it("lists the connected workers as a table, and `worker status` prints the same", async () => {
    const workers = await run("workers");
    expect(workers.status).toBe(0);
    expect(workers.stdout).toBe(
      [
        "ID   HOST    PID   SERVER  QUEUES                 SLOTS  IN-USE  STATE      CONNECTED             LAST-SEEN",
        "w-1  host-a  4242  srv-1   high_priority,default  10     3       CONNECTED  2030-01-02T03:04:05Z  <1s ago",
        "",
      ].join("\n"),
    );
    expect(only("listWorkers")).toMatchObject({ includeDisconnected: false, queue: "" });
    fake.calls.length = 0;
    expect((await run("worker", "status")).stdout).toBe(workers.stdout);
  });

  it("includes disconnected workers with --all, filters by queue, prints JSON", async () => {
    const all = await run("worker", "status", "--all", "--queue", "default");
    expect(all.stdout.split("\n").filter((line) => line.includes("DISCONNECTED"))).toHaveLength(1);
    expect(only("listWorkers")).toMatchObject({ includeDisconnected: true, queue: "default" });
    const json = JSON.parse((await run("workers", "--json")).stdout) as { workers: { id: string; state: string }[] };
    expect(json.workers.map((w) => [w.id, w.state])).toEqual([["w-1", "WORKER_STATE_CONNECTED"]]);
  });

  it("drains a worker and says what it does", async () => {
    const drained = await run("workers", "drain", "w-1", "--reason", "deploy");
    expect(drained).toMatchObject({ status: 0, stdout: "draining worker w-1: it finishes its 3 running tasks and takes no new ones\n" });
    expect(only("drainWorker")).toMatchObject({ id: "w-1", reason: "deploy" });
    const unknown = await run("workers", "drain", "w-9");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toBe("error: NOT_FOUND: no connected worker w-9\n");
  });
});

describe("servers", () => {
  it("lists the servers; `queue servers` prints the same", async () => {
    const servers = await run("servers");
    expect(servers.stdout).toMatch(/^ID +HOST +PID +VERSION +ADDRESS +STATE +STARTED +LAST-SEEN +WORKERS\nsrv-1 +host-a +99 +0\.1\.0 +127\.0\.0\.1:50051 +SERVING +2030-01-02T03:04:05Z +<1s ago +1\n$/);
    expect((await run("queue", "servers")).stdout).toBe(servers.stdout);
    expect(JSON.parse((await run("servers", "--json")).stdout)).toMatchObject({ servers: [{ id: "srv-1", workerCount: 1 }] });
  });
});

describe("queues", () => {
  it("lists the queues; `queue status` prints the same", async () => {
    const queues = await run("queues");
    expect(queues.stdout).toBe(
      [
        "QUEUE    PAUSED  SCHEDULED  QUEUED  RUNNING  OLDEST  WORKERS  OK/1M  FAILED/1M  OK/1H  FAILED/1H",
        "default  no      1          12      2        1m30s   1        5      1          300    7",
        "emails   yes     1          12      2        1m30s   1        5      1          300    7",
        "",
      ].join("\n"),
    );
    expect((await run("queue", "status")).stdout).toBe(queues.stdout);
  });

  it("shows one queue's stats", async () => {
    const stats = await run("queue", "stats", "emails");
    expect(stats.stdout).toContain("queue:          emails\n");
    expect(stats.stdout).toContain("last hour:      300 succeeded, 7 failed\n");
    expect(only("getQueue")).toMatchObject({ name: "emails" });
  });

  it("pauses and resumes a queue, saying so", async () => {
    expect((await run("queue", "pause", "emails")).stdout).toBe(
      "paused queue emails (12 queued, 2 running): no task of it starts until it is resumed\n",
    );
    expect((await run("queue", "resume", "emails")).stdout).toBe("resumed queue emails (12 queued)\n");
    expect(fake.calls.map((call) => [call.method, call.request])).toMatchObject([
      ["pauseQueue", { name: "emails" }],
      ["resumeQueue", { name: "emails" }],
    ]);
  });

  it("purges a queue, `queue clear` too, with type, time and reason", async () => {
    expect((await run("queue", "purge", "emails")).stdout).toBe("purged queue emails: cancelled 13 tasks\n");
    expect(only("purgeQueue")).toMatchObject({ name: "emails", type: "", reason: "" });
    fake.calls.length = 0;
    const before = Date.now() - 2 * 3_600_000;
    const clear = await run("queue", "clear", "emails", "--type", "send", "--created-before", "2h", "--reason", "spam");
    expect(clear.stdout).toBe("purged queue emails: cancelled 13 tasks\n");
    const request = only("purgeQueue") as PurgeQueueRequest;
    expect(request).toMatchObject({ type: "send", reason: "spam" });
    expect(request.createdBefore).toBeDefined();
    if (request.createdBefore) expect(Math.abs(timestampDate(request.createdBefore).getTime() - before)).toBeLessThan(60_000);
    expect(JSON.parse((await run("queue", "purge", "emails", "--json")).stdout)).toEqual({ cancelled: "13" });
  });

  it("retries the failed tasks of a queue", async () => {
    expect((await run("queue", "retry", "emails")).stdout).toBe("retried 10000 tasks\n");
    const request = only("retryTasks") as RetryTasksRequest;
    expect(request.ids).toEqual([]);
    expect(request.selector).toMatchObject({ states: [TaskState.FAILED], queue: "emails" });
  });

  it("refuses a bad queue name with exit status 2, before any call", async () => {
    const bad = await run("queue", "pause", "no/such");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("invalid for argument 'queue'");
    expect(fake.calls).toEqual([]);
  });
});

describe("tasks count", () => {
  it("counts by state and type, with the total", async () => {
    const counted = await run("tasks", "count", "--by", "type", "--queue", "default", "--state", "queued,failed");
    expect(counted.stdout).toBe("STATE   TYPE         COUNT\nQUEUED  test.echo    12\nFAILED  test.broken  3\n15 tasks\n");
    const request = only("countTasks") as CountTasksRequest;
    expect(request.groupBy).toEqual([CountGroup.TYPE]);
    expect(request.selector).toMatchObject({ states: [TaskState.QUEUED, TaskState.FAILED], queue: "default" });
  });

  it("counts everything by state alone, and as JSON", async () => {
    expect((await run("tasks", "count")).stdout).toBe("STATE   COUNT\nQUEUED  12\nFAILED  3\n15 tasks\n");
    expect((only("countTasks") as CountTasksRequest).selector).toBeUndefined();
    const json = JSON.parse((await run("tasks", "count", "--by", "queue", "--json")).stdout) as { total: string };
    expect(json.total).toBe("15");
  });
});

describe("tasks retry, cancel, delete", () => {
  it("retry by ids or by selector prints how many", async () => {
    expect((await run("tasks", "retry", "a", "b")).stdout).toBe("retried 2 tasks\n");
    expect((only("retryTasks") as RetryTasksRequest).ids).toEqual(["a", "b"]);
    fake.calls.length = 0;
    expect((await run("tasks", "retry", "--state", "failed", "--type", "t", "--finished-after", "2030-01-01T00:00:00Z")).stdout).toBe(
      "retried 10000 tasks\n",
    );
    const selector = (only("retryTasks") as RetryTasksRequest).selector;
    expect(selector).toMatchObject({ states: [TaskState.FAILED], type: "t" });
    expect(selector?.finishedAfter && timestampDate(selector.finishedAfter).toISOString()).toBe("2030-01-01T00:00:00.000Z");
  });

  it("retry --all names the states it takes", async () => {
    await run("tasks", "retry", "--all");
    expect((only("retryTasks") as RetryTasksRequest).selector?.states).toEqual([TaskState.FAILED, TaskState.CANCELLED]);
  });

  it("cancel reports the tasks cancelled at once and those stopping", async () => {
    expect((await run("tasks", "cancel", "--queue", "q", "--reason", "stop")).stdout).toBe(
      "cancelled 4 tasks; 2 running tasks are being stopped by their workers\n",
    );
    expect(only("cancelTasks") as CancelTasksRequest).toMatchObject({ reason: "stop", selector: { queue: "q" } });
    fake.calls.length = 0;
    expect((await run("tasks", "cancel", "x")).stdout).toBe("cancelled 4 tasks\n");
    expect(JSON.parse((await run("tasks", "cancel", "x", "--json")).stdout)).toEqual({ cancelled: "4", cancelling: "0" });
  });

  it("delete prints how many", async () => {
    expect((await run("tasks", "delete", "--finished-before", "7d")).stdout).toBe("deleted 1 task\n");
    expect(JSON.parse((await run("tasks", "delete", "--state", "succeeded", "--json")).stdout)).toEqual({ deleted: "1" });
  });

  it.each([
    [["tasks", "retry"], /^error: retry: give task ids, or choose tasks with --state/],
    [["tasks", "delete", "a", "--state", "failed"], /^error: delete: give task ids or selection flags \(or --all\), not both/],
    [["tasks", "retry", "--state", "running"], /^error: retry takes only failed or cancelled tasks, not running/],
    [["tasks", "delete", "--state", "queued"], /^error: delete takes only succeeded, failed or cancelled tasks, not queued/],
    [["tasks", "cancel", "--finished-before", "1d"], /unknown option '--finished-before'/],
    [["tasks", "delete", "--finished-before", "last week"], /argument 'last week' is invalid\. expected an ISO 8601 time/],
    [["tasks", "count", "--by", "color"], /argument 'color' is invalid\. expected state, type or queue/],
    [["tasks", "count", "--state", "done"], /expected states among/],
  ])("exits 2 on %j without calling the server", async (args, message) => {
    const result = await run(...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(fake.calls).toEqual([]);
  });
});
