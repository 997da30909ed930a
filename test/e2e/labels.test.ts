/**
 * Labels end to end (issue 17, "labels"), on both back ends: `taskwire submit --label`
 * (repeatable), the bounds of a submission's labels and of a filter's, `ListTasks` and
 * `CountTasks` (and the bulk actions' selector) filtered by labels, from the SDK and the CLI.
 * That a label filter is served by the GIN index is in test/store/query-plans.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { defineTask, Worker } from "../../src/worker/index.js";
import { BACKENDS, eventually, runCli, startTestServer, type TestServer } from "../support/server.js";

const tagged = defineTask({ name: "labels.tagged", input: StructSchema, output: StructSchema, queue: "labels-paused" }, async () => ({}));

async function codeOf(call: Promise<unknown>): Promise<Code | undefined> {
  return call.then(
    () => undefined,
    (error: unknown) => ConnectError.from(error).code,
  );
}

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let client: TaskwireClient;
  let worker: Worker;
  let running: Promise<void>;
  /** A tenant name of this run, so the counts are this file's own. */
  const tenant = `acme-${backend.replace(/\W/g, "")}`;

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    client = createClient({ url: server.url });
    // The worker declares the type and serves another queue: the tasks stay QUEUED.
    worker = new Worker({ url: server.url, tasks: [tagged], queues: ["labels-elsewhere"] });
    running = worker.run();
    await eventually(async () => (await client.listTypes()).some((type) => type.name === tagged.name && type.workerCount > 0), 30_000, "the worker");
  }, 60_000);

  afterAll(async () => {
    await worker?.shutdown();
    await running;
    client?.close();
    await server?.stop();
  });

  it("taskwire submit --label (repeatable) tags the task; ListTasks and CountTasks filter by every label given", async () => {
    const cli = await runCli(["submit", tagged.name, "--label", `tenant=${tenant}`, "--label", "workspace=w1", "--url", server.url, "--json"]);
    expect(cli.code, cli.stderr).toBe(0);
    const id = String((JSON.parse(cli.stdout) as { id: string }).id);
    expect((await client.getStatus(id)).labels).toEqual({ tenant, workspace: "w1" });
    const other = await client.submit(tagged, {}, { labels: { tenant, workspace: "w2" } });
    await client.submit(tagged, {}, { labels: { tenant: "someone-else", workspace: "w1" } });

    const both = await client.listTasks({ labels: { tenant } });
    expect(both.tasks.map((task) => task.id).sort()).toEqual([id, other.id].sort());
    expect(both.totalCount).toBe(2n);
    expect((await client.listTasks({ labels: { tenant, workspace: "w1" } })).tasks.map((task) => task.id)).toEqual([id]);
    expect((await client.listTasks({ labels: { tenant, workspace: "w3" } })).tasks).toEqual([]);

    const counted = await client.admin.countTasks({ selector: { labels: { tenant } } });
    expect(counted.counts).toEqual([expect.objectContaining({ state: TaskState.QUEUED, count: 2n })]);
    const byCli = await runCli(["tasks", "count", "--label", `tenant=${tenant}`, "--label", "workspace=w2", "--url", server.url, "--json"]);
    expect(byCli.code, byCli.stderr).toBe(0);
    expect(JSON.parse(byCli.stdout)).toMatchObject({ counts: [{ state: "TASK_STATE_QUEUED", count: "1" }] });
    const listed = await runCli(["tasks", "list", "--label", `tenant=${tenant}`, "--url", server.url, "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect((JSON.parse(listed.stdout) as { tasks: unknown[] }).tasks).toHaveLength(2);

    // The bulk actions take the same selector: cancel one tenant's tasks, nobody else's.
    const cancelled = await client.admin.cancelTasks({ selector: { labels: { tenant } }, reason: "tenant offboarded" });
    expect(cancelled.cancelled).toBe(2n);
    expect((await client.admin.countTasks({ selector: { labels: { tenant: "someone-else" }, states: ["QUEUED"] } })).counts).toEqual([
      expect.objectContaining({ state: TaskState.QUEUED, count: 1n }),
    ]);
  });

  it("refuses labels over the bounds, at submission and in filters, naming the label", async () => {
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));
    expect(await codeOf(client.submit(tagged, {}, { labels: many }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.submit(tagged, {}, { labels: { "bad key": "v" } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.submit(tagged, {}, { labels: { ["k".repeat(129)]: "v" } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.submit(tagged, {}, { labels: { tenant: "v".repeat(129) } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.submit(tagged, {}, { labels: { tenant: "line\nbreak" } }))).toBe(Code.InvalidArgument);
    const error = await client.submit(tagged, {}, { labels: { "bad key": "v" } }).catch((e: unknown) => ConnectError.from(e));
    expect(error instanceof ConnectError ? error.rawMessage : "").toContain('labels["bad key"]: keys must be 1 to 128 letters, digits and _ . - / :');
    expect(await codeOf(client.listTasks({ labels: many }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.listTasks({ labels: { "bad key": "v" } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.admin.countTasks({ selector: { labels: { "bad key": "v" } } }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.admin.countTasks({ selector: { labels: many } }))).toBe(Code.InvalidArgument);
    const cli = await runCli(["submit", tagged.name, "--label", "novalue", "--url", server.url]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain('expected "key=value"');
  });
});
