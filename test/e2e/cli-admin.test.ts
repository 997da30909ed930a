/**
 * The fleet commands of the CLI run as processes (`bin/taskwire.js`) against a real server with
 * a real worker process, on both storage back ends: workers (and `worker status`), servers (and
 * `queue servers`), queues (and `queue status`), queue stats/pause/resume/purge/clear/retry,
 * tasks count/retry/cancel/delete, workers drain. The SDK only submits and awaits outcomes.
 *
 * `TASKWIRE_CLI_TRANSCRIPT=<file>` appends every command and what it printed to a file (the
 * README's example output comes from such a run).
 */
import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, TaskState, WorkerState, type TaskHandle, type TaskwireClient } from "../../src/client/index.js";
import * as fixtures from "../fixtures/tasks.js";
import { BACKENDS, eventually, runCli, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";

const TRANSCRIPT = process.env["TASKWIRE_CLI_TRANSCRIPT"];

/** A table printed by the CLI, cut at the columns of its header (cells may be empty). */
function parseTable(text: string): Record<string, string>[] {
  const [header = "", ...lines] = text.split("\n").filter((line) => line !== "");
  const starts = [...header.matchAll(/\S+/g)].map((match) => ({ name: match[0], at: match.index }));
  return lines.map((line) =>
    Object.fromEntries(starts.map((column, i) => [column.name, line.slice(column.at, starts[i + 1]?.at ?? line.length).trim()])),
  );
}

describe.each(BACKENDS)("the fleet commands on %s", (backend) => {
  const suffix = randomUUID().slice(0, 8);
  const queue = {
    pause: `pause-${suffix}`,
    purge: `purge-${suffix}`,
    retry: `retry-${suffix}`,
    cancel: `cancel-${suffix}`,
  };
  // The worker serves every queue but the purge one, whose tasks must stay waiting.
  const served = [queue.pause, queue.retry, queue.cancel];
  let server: TestServer;
  let worker: WorkerProcess;
  let workerId: string;
  let client: TaskwireClient;

  async function cli(...args: string[]) {
    const result = await runCli(["--url", server.url, ...args]);
    if (TRANSCRIPT) {
      appendFileSync(TRANSCRIPT, `# ${backend}\n$ taskwire ${args.join(" ")}\n${result.stdout}${result.stderr}[exit ${result.code}]\n\n`);
    }
    return result;
  }

  /** Runs a command that must succeed; returns its stdout. */
  async function ok(...args: string[]): Promise<string> {
    const result = await cli(...args);
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  }

  async function ended(handles: readonly Pick<TaskHandle, "wait">[], state: TaskState): Promise<void> {
    for (const handle of handles) expect((await handle.wait({ timeout: 30_000 })).state).toBe(state);
  }

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    client = createClient({ url: server.url });
    worker = spawnWorker(server.url, ["--queues", served.join(","), "--concurrency", "4"]);
    const [connected] = await eventually(
      async () => {
        const workers = await client.admin.listWorkers();
        return workers.length > 0 && workers;
      },
      60_000,
      "the worker to connect",
    );
    workerId = connected?.id ?? "";
  }, 120_000);

  afterAll(async () => {
    worker?.kill("SIGKILL");
    await worker?.exited;
    client?.close();
    await server?.stop();
  }, 60_000);

  it("lists the connected worker (`workers`, `worker status`) and the server (`servers`, `queue servers`)", async () => {
    // A server writes its count of worker streams with its heartbeat, every few seconds.
    await eventually(async () => (await client.admin.listServers())[0]?.workerCount === 1, 30_000, "the server's heartbeat to count the worker");
    const [workers, status, json, servers, queueServers] = await Promise.all([
      ok("workers"),
      ok("worker", "status"),
      ok("workers", "--json"),
      ok("servers"),
      ok("queue", "servers"),
    ]);
    for (const table of [workers, status]) {
      expect(parseTable(table)).toEqual([
        expect.objectContaining({ ID: workerId, QUEUES: served.join(","), SLOTS: "4", "IN-USE": "0", STATE: "CONNECTED" }),
      ]);
    }
    expect(JSON.parse(json)).toMatchObject({ workers: [{ id: workerId, state: "WORKER_STATE_CONNECTED", queues: served }] });

    const port = new URL(server.url).port;
    const [serverRow] = parseTable(servers);
    expect(parseTable(servers)).toHaveLength(1);
    expect(serverRow).toMatchObject({ STATE: "SERVING", WORKERS: "1" });
    expect(serverRow?.ADDRESS).toMatch(new RegExp(`:${port}$`));
    expect(parseTable(queueServers).map((row) => row.ID)).toEqual([serverRow?.ID]);
  }, 60_000);

  it("pauses a queue (nothing of it starts), shows it in `queues`, `queue status`, `queue stats`, and resumes it", async () => {
    expect(await ok("queue", "pause", queue.pause)).toBe(
      `paused queue ${queue.pause} (0 queued, 0 running): no task of it starts until it is resumed\n`,
    );
    const handle = await client.submit(fixtures.echo, { paused: true }, { queue: queue.pause });
    // The server's own wait, not a sleep: the task is still QUEUED a second later.
    expect((await client.getResult(handle.id, "1s")).state).toBe(TaskState.QUEUED);

    const [queues, status, stats] = await Promise.all([ok("queues"), ok("queue", "status"), ok("queue", "stats", queue.pause)]);
    for (const table of [queues, status]) {
      expect(parseTable(table).find((row) => row.QUEUE === queue.pause)).toMatchObject({
        PAUSED: "yes",
        QUEUED: "1",
        RUNNING: "0",
        WORKERS: "1",
      });
    }
    expect(stats).toContain(`queue:          ${queue.pause}\n`);
    expect(stats).toMatch(/^paused: +yes, since \d{4}-\d\d-\d\dT/m);
    expect(stats).toMatch(/^queued: +1$/m);
    expect(stats).toMatch(new RegExp(`^workers: +1 \\(${workerId}\\)$`, "m"));

    // The task may be dispatched before the answer reads the queue's figures.
    expect(await ok("queue", "resume", queue.pause)).toMatch(new RegExp(`^resumed queue ${queue.pause} \\([01] queued\\)\n$`));
    expect(await handle.result({ timeout: 30_000 })).toMatchObject({ paused: true });
    expect(await ok("queue", "stats", queue.pause)).toMatch(/^last minute: +1 succeeded, 0 failed$/m);
  }, 90_000);

  it("purges a queue's waiting tasks by type (`queue purge`), then the rest (`queue clear`)", async () => {
    const later = { delay: "1h", queue: queue.purge };
    await Promise.all([
      client.submit(fixtures.echo, {}, later),
      client.submit(fixtures.echo, {}, later),
      client.submit(fixtures.echo, {}, { queue: queue.purge }),
      client.submit(fixtures.sleep, {}, later),
    ]);
    expect(await ok("queue", "purge", queue.purge, "--type", "test.echo", "--reason", "not needed")).toBe(
      `purged queue ${queue.purge}: cancelled 3 tasks\n`,
    );
    expect(await ok("queue", "clear", queue.purge, "--created-before", "0s")).toBe(`purged queue ${queue.purge}: cancelled 1 task\n`);
    expect(await ok("queue", "clear", queue.purge)).toBe(`purged queue ${queue.purge}: cancelled 0 tasks\n`);
    expect(await ok("tasks", "count", "--queue", queue.purge)).toBe("STATE      COUNT\nCANCELLED  4\n4 tasks\n");
  }, 90_000);

  it("retries failed tasks: `queue retry`, `tasks retry <id>`, `tasks retry --state failed …`", async () => {
    const broken = await Promise.all([1, 2].map(() => client.submit(fixtures.broken, {}, { queue: queue.retry })));
    await ended(broken, TaskState.FAILED);

    expect(await ok("queue", "retry", queue.retry)).toBe("retried 2 tasks\n");
    await ended(broken, TaskState.FAILED);
    expect((await client.getStatus(broken[0]?.id ?? "")).attempt).toBe(2);

    expect(await ok("tasks", "retry", broken[0]?.id ?? "")).toBe("retried 1 task\n");
    await ended(broken, TaskState.FAILED);

    expect(await ok("tasks", "retry", "--state", "failed", "--queue", queue.retry, "--type", "test.broken", "--finished-after", "1h")).toBe(
      "retried 2 tasks\n",
    );
    await ended(broken, TaskState.FAILED);
    expect(await ok("tasks", "retry", "--queue", queue.retry, "--state", "cancelled")).toBe("retried 0 tasks\n");
    expect(await ok("tasks", "count", "--queue", queue.retry, "--by", "type")).toBe("STATE   TYPE         COUNT\nFAILED  test.broken  2\n2 tasks\n");
  }, 120_000);

  it("cancels in bulk: waiting tasks at once, a running one through its worker", async () => {
    const running = await client.submit(fixtures.sleep, { ms: 60_000, steps: 60 }, { queue: queue.cancel });
    for await (const event of running.progress()) if (event.state === TaskState.RUNNING) break;
    const waiting = await Promise.all([1, 2, 3].map(() => client.submit(fixtures.echo, {}, { queue: queue.cancel, delay: "1h" })));

    expect(await ok("tasks", "cancel", waiting[2]?.id ?? "")).toBe("cancelled 1 task\n");
    expect(await ok("tasks", "cancel", "--queue", queue.cancel, "--reason", "operator stop")).toBe(
      "cancelled 2 tasks; 1 running task is being stopped by its worker\n",
    );
    await ended([running, ...waiting], TaskState.CANCELLED);
    expect(await ok("tasks", "count", "--queue", queue.cancel, "--state", "cancelled", "--by", "type,queue")).toBe(
      [
        "STATE      TYPE        QUEUE" + " ".repeat(queue.cancel.length - 3) + "COUNT",
        `CANCELLED  test.echo   ${queue.cancel}  3`,
        `CANCELLED  test.sleep  ${queue.cancel}  1`,
        "4 tasks",
        "",
      ].join("\n"),
    );
  }, 90_000);

  it("deletes finished tasks by selector and by id", async () => {
    expect(await ok("tasks", "delete", "--queue", queue.purge, "--state", "cancelled", "--finished-after", "1h")).toBe("deleted 4 tasks\n");
    expect(await ok("tasks", "count", "--queue", queue.purge)).toBe("STATE  COUNT\n0 tasks\n");

    const page = await client.listTasks({ queue: queue.retry });
    expect(await ok("tasks", "delete", page.tasks[0]?.id ?? "")).toBe("deleted 1 task\n");
    expect(await ok("tasks", "delete", "--queue", queue.retry, "--finished-before", "0s", "--json")).toBe('{\n  "deleted": "1"\n}\n');
  }, 60_000);

  it("exits 2 on a usage mistake and 1 on the server's refusal", async () => {
    const [unnarrowed, wrongState, notAnId, unknownWorker] = await Promise.all([
      cli("tasks", "delete"),
      cli("tasks", "retry", "--state", "running"),
      cli("tasks", "retry", "not-a-task-id"),
      cli("workers", "drain", "nobody"),
    ]);
    expect(unnarrowed.code).toBe(2);
    expect(unnarrowed.stderr).toMatch(/^error: delete: give task ids, or choose tasks with --state/);
    expect(wrongState.code).toBe(2);
    expect(wrongState.stderr).toBe("error: retry takes only failed or cancelled tasks, not running\n");
    expect(notAnId.code).toBe(1);
    expect(notAnId.stderr).toMatch(/^error: INVALID_ARGUMENT: /);
    expect(unknownWorker.code).toBe(1);
    expect(unknownWorker.stderr).toMatch(/^error: NOT_FOUND: /);
  }, 60_000);

  it("drains the worker (`workers drain`): it leaves, and `workers --all` shows it disconnected", async () => {
    expect(await ok("workers", "drain", workerId, "--reason", "end of the test")).toBe(`draining worker ${workerId}: it takes no new tasks\n`);
    await worker.exited;
    await eventually(
      async () => (await client.admin.getWorker(workerId)).state === WorkerState.DISCONNECTED,
      30_000,
      "the worker's record to close",
    );
    const [all, connected] = await Promise.all([cli("workers", "--all"), cli("workers")]);
    expect(parseTable(all.stdout)).toEqual([expect.objectContaining({ ID: workerId, STATE: "DISCONNECTED" })]);
    expect(parseTable(connected.stdout)).toEqual([]);
    expect(connected.stderr).toBe("no workers connected\n");
  }, 60_000);
});
