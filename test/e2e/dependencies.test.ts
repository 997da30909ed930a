/**
 * Task dependencies end to end (issue 17), on both back ends: a diamond runs in order and its
 * join reads both outputs; a failed parent cancels its descendants with a reason naming it; the
 * RUN policy runs anyway; a cancelled parent cascades; a batch with an unknown, forward or cyclic
 * reference is refused whole; too many parents, and another key's task as a parent, are
 * refused; ListTasks by parent; `taskwire tasks tree` and `submit --depends-on`; and, on Redis
 * and PostgreSQL, two servers releasing the children of one fan-in exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { uuidv7 } from "uuidv7";
import { batchItem, createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { defineTask, Worker } from "../../src/worker/index.js";
import type { TaskSpec } from "../../src/common/task-definition.js";
import { testKey } from "../support/keys.js";
import { BACKENDS, runCli, startTestServer, eventually, type TestServer } from "../support/server.js";

const QUEUE = "deps";

/** Start order of the step tasks, by name. */
const started: string[] = [];
/** How many times each step ran, by name. */
const runs = new Map<string, number>();

/** The contract of the step task, apart: its handler reads the outputs of parents of its own type. */
const stepSpec: TaskSpec<typeof StructSchema, typeof StructSchema> = { name: "deps.step", input: StructSchema, output: StructSchema, queue: QUEUE, retries: 0 };

/** Records its start, fails when asked, and returns its name with what it read of its parents. */
const step = defineTask(stepSpec, async (input, ctx) => {
    const name = String(input["name"]);
    started.push(name);
    runs.set(name, (runs.get(name) ?? 0) + 1);
    if (input["fail"] === true) throw new Error(`step ${name} fails on purpose`);
    return {
      name,
      // Typed fan-in: the outputs of every parent of this type.
      parents: ctx.parents.outputsOf(stepSpec).map((output) => String(output["name"])),
      states: ctx.parents.map((parent) => parent.state),
    };
});

function item(name: string, options: Parameters<typeof batchItem>[2] = {}, extra: Record<string, boolean> = {}) {
  return batchItem(step, { name, ...extra }, { labels: { run: RUN }, ...options });
}

/** Labels every task of this file's runs, so "nothing stored" can be checked. */
const RUN = uuidv7().slice(-12);

async function expectCode(promise: Promise<unknown>, code: Code, message?: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  expect((error as ConnectError).code).toBe(code);
  if (message) expect((error as ConnectError).rawMessage).toMatch(message);
}

describe.each(BACKENDS)("on %s", (backend) => {
  const client1 = testKey("deps-alice", "client");
  const client2 = testKey("deps-bob", "client");
  const workerKey = testKey("deps-worker", "worker");
  let server: TestServer;
  let client: TaskwireClient;
  let other: TaskwireClient;
  let worker: Worker;
  let running: Promise<void>;

  beforeAll(async () => {
    server = await startTestServer({ apiKeys: [client1.env, client2.env, workerKey.env].join(","), maxParents: 4 }, undefined, backend);
    client = createClient({ url: server.url, headers: client1.headers });
    other = createClient({ url: server.url, headers: client2.headers });
    worker = new Worker({ url: server.url, tasks: [step], queues: [QUEUE], concurrency: 4, headers: workerKey.headers });
    running = worker.run();
    await eventually(async () => (await client.listTypes()).some((t) => t.name === step.spec.name && t.workerCount > 0), 30_000, "the worker");
  }, 60_000);

  afterAll(async () => {
    await worker?.shutdown();
    await running;
    client?.close();
    other?.close();
    await server?.stop();
  });

  it("runs a diamond in order, and the join reads both outputs", async () => {
    const { a, b, c, d } = await client.graph({
      a: item(`${backend}-A`),
      b: { ...item(`${backend}-B`), after: ["a"] },
      c: { ...item(`${backend}-C`), after: ["a"] },
      d: { ...item(`${backend}-D`), after: ["b", "c"] },
    });
    const waiting = await d.status();
    expect([TaskState.WAITING, TaskState.QUEUED, TaskState.RUNNING, TaskState.SUCCEEDED]).toContain(waiting.state);
    expect(waiting.parentIds).toEqual([b.id, c.id]);
    const output = await d.result({ timeout: 30_000 });
    expect(output?.["name"]).toBe(`${backend}-D`);
    expect([...(output?.["parents"] as string[])].sort()).toEqual([`${backend}-B`, `${backend}-C`]);
    const order = started.filter((name) => name.startsWith(`${backend}-`));
    expect(order[0]).toBe(`${backend}-A`);
    expect(order[3]).toBe(`${backend}-D`);
    expect((await a.status()).childrenCount).toBe(2);
    const children = await client.listTasks({ parentId: a.id });
    expect(children.tasks.map((t) => t.id).sort()).toEqual([b.id, c.id].sort());
    // The join went WAITING → QUEUED → RUNNING → SUCCEEDED, released once.
    const transitions = (await d.status()).transitions.map((t) => t.state);
    expect(transitions).toEqual([TaskState.WAITING, TaskState.QUEUED, TaskState.RUNNING, TaskState.SUCCEEDED]);
    expect(c.id).not.toBe(b.id);
  });

  it("cancels the descendants of a failed parent, each reason naming its parent", async () => {
    const [a, b, c] = await client.chain([item(`${backend}-fA`, {}, { fail: true }), item(`${backend}-fB`), item(`${backend}-fC`)]);
    const last = await c.wait({ timeout: 30_000 });
    expect(last.state).toBe(TaskState.CANCELLED);
    expect(last.error?.message).toBe(`parent task ${b.id} was cancelled`);
    const middle = await b.status();
    expect(middle.state).toBe(TaskState.CANCELLED);
    expect(middle.error).toMatchObject({ name: "ParentFailed", message: `parent task ${a.id} failed` });
    expect((await a.status()).state).toBe(TaskState.FAILED);
    expect(runs.has(`${backend}-fB`)).toBe(false);
    expect(runs.has(`${backend}-fC`)).toBe(false);
  });

  it("runs a child whose policy is RUN after its parent failed", async () => {
    const [, b] = await client.chain([item(`${backend}-rA`, {}, { fail: true }), item(`${backend}-rB`, { onParentFailure: "run" })]);
    const output = await b.result({ timeout: 30_000 });
    expect(output).toMatchObject({ name: `${backend}-rB`, parents: [], states: ["FAILED"] });
  });

  it("cascades the cancel of a parent", async () => {
    const [a, b, c] = await client.chain([item(`${backend}-cA`, { delay: "1h" }), item(`${backend}-cB`), item(`${backend}-cC`)]);
    expect((await b.status()).state).toBe(TaskState.WAITING);
    await a.cancel("not needed");
    const [cb, cc] = await Promise.all([b.wait({ timeout: 10_000 }), c.wait({ timeout: 10_000 })]);
    expect(cb.state).toBe(TaskState.CANCELLED);
    expect(cb.error?.message).toBe(`parent task ${a.id} was cancelled`);
    expect(cc.state).toBe(TaskState.CANCELLED);
  });

  it("depends on a stored task, and a task whose parents finished goes straight on", async () => {
    const parent = await client.submit(step, { name: `${backend}-sA` }, { labels: { run: RUN } });
    await parent.result({ timeout: 30_000 });
    const child = await client.submit(step, { name: `${backend}-sB` }, { dependsOn: [parent], labels: { run: RUN } });
    const first = (await child.status()).transitions[0]?.state;
    expect(first).toBe(TaskState.QUEUED);
    expect(await child.result({ timeout: 30_000 })).toMatchObject({ parents: [`${backend}-sA`] });
  });

  it("refuses a batch with an unknown parent, a forward or cyclic reference, whole", async () => {
    const before = (await client.listTasks({ labels: { run: RUN } })).totalCount;
    await expectCode(client.submitBatch([item("x1"), item("x2", { dependsOn: [uuidv7()] })]), Code.NotFound, /does not exist/);
    await expectCode(client.submitBatch([item("x1", { dependsOnItems: [1] }), item("x2", { dependsOnItems: [0] })]), Code.InvalidArgument, /earlier item/);
    await expectCode(client.submitBatch([item("x1", { dependsOnItems: [0] })]), Code.InvalidArgument, /tasks\[0\]\.depends_on_items\[0\]/);
    await expectCode(client.submitBatch([item("x1"), item("x2", { dependsOnItems: [-1] })]), Code.InvalidArgument, /earlier item/);
    await expectCode(client.submit(step, { name: "x" }, { dependsOnItems: [0] }), Code.InvalidArgument, /SubmitBatch/);
    await expectCode(client.submit(step, { name: "x" }, { dependsOn: ["not-a-uuid"] }), Code.InvalidArgument, /depends_on\[0\]/);
    expect((await client.listTasks({ labels: { run: RUN } })).totalCount).toBe(before);
    // A client-side graph with a cycle is refused before anything is sent.
    await expect(client.graph({ p: { ...item("p"), after: ["q"] }, q: { ...item("q"), after: ["p"] } })).rejects.toThrow(/cycle/);
  });

  it("refuses more parents than --max-parents", async () => {
    const ids = [uuidv7(), uuidv7(), uuidv7(), uuidv7(), uuidv7()];
    await expectCode(client.submit(step, { name: "x" }, { dependsOn: ids }), Code.InvalidArgument, /at most 4/);
  });

  it("treats another key's task as unknown", async () => {
    const theirs = await other.submit(step, { name: `${backend}-theirs` }, { labels: { run: RUN } });
    await expectCode(client.submit(step, { name: "x" }, { dependsOn: [theirs.id] }), Code.NotFound, new RegExp(`task ${theirs.id} does not exist`));
    await theirs.result({ timeout: 30_000 });
  });

  it("submits from the CLI with --depends-on and prints the graph with `tasks tree`", async () => {
    const env = { TASKWIRE_API_KEY: client1.token };
    const [a] = await client.chain([item(`${backend}-tA`, { delay: "1h" })]);
    const submitted = await runCli(["submit", step.spec.name, "--url", server.url, "-i", `{"name":"${backend}-tB"}`, "--depends-on", a.id, "--on-parent-failure", "run", "-l", `run=${RUN}`], env);
    expect(submitted.stderr).toBe("");
    expect(submitted.code).toBe(0);
    const childId = submitted.stdout.trim();
    const child = await client.getStatus(childId);
    expect(child).toMatchObject({ state: TaskState.WAITING, parentIds: [a.id] });
    const tree = await runCli(["tasks", "tree", a.id, "--url", server.url], env);
    expect(tree.code).toBe(0);
    expect(tree.stdout).toBe(`${a.id}  deps.step  SCHEDULED\n└─ ${childId}  deps.step  WAITING\n`);
    const up = await runCli(["tasks", "tree", childId, "--url", server.url], env);
    expect(up.stdout).toBe(`parents:\n  ${a.id}  deps.step  SCHEDULED\n${childId}  deps.step  WAITING\n`);
    const listed = await runCli(["tasks", "list", "--parent", a.id, "--url", server.url], env);
    expect(listed.stdout).toContain(childId);
    expect(listed.stdout).toMatch(/\n1 of 1 tasks\n$/);
    const status = await runCli(["status", childId, "--url", server.url], env);
    expect(status.stdout).toMatch(new RegExp(`\\nparents: +${a.id} \\(if one fails: run\\)\\n`));
    expect((await runCli(["status", a.id, "--url", server.url], env)).stdout).toMatch(/\nchildren: +1\n/);
    const bad = await runCli(["submit", step.spec.name, "--url", server.url, "--on-parent-failure", "maybe"], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--on-parent-failure/);
    await a.cancel();
  });
});

describe("two servers on Redis and PostgreSQL", () => {
  let first: TestServer;
  let second: TestServer;
  let client: TaskwireClient;
  const workers: Worker[] = [];
  const runningWorkers: Promise<void>[] = [];

  beforeAll(async () => {
    first = await startTestServer();
    second = await startTestServer({ databaseSchema: first.config.databaseSchema, redisPrefix: first.config.redisPrefix });
    client = createClient({ url: first.url });
    for (const url of [first.url, second.url]) {
      const worker = new Worker({ url, tasks: [step], queues: [QUEUE], concurrency: 8 });
      workers.push(worker);
      runningWorkers.push(worker.run());
    }
    await eventually(async () => (await client.listTypes()).some((t) => t.name === step.spec.name && t.workerCount >= 2), 30_000, "both workers");
  }, 60_000);

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.shutdown()));
    await Promise.all(runningWorkers);
    client?.close();
    await second?.stop().catch(() => undefined);
    await first?.stop();
  });

  it("releases the children of a fan-in exactly once", async () => {
    const rounds = 5;
    for (let round = 0; round < rounds; round++) {
      const group = Array.from({ length: 4 }, (_, i) => item(`two-${round}-p${i}`));
      const { callback } = await client.chord(group, item(`two-${round}-join`));
      const output = await callback.result({ timeout: 30_000 });
      expect((output?.["parents"] as string[]).length).toBe(4);
      const task = await callback.status();
      expect(task.transitions.map((t) => t.state)).toEqual([TaskState.WAITING, TaskState.QUEUED, TaskState.RUNNING, TaskState.SUCCEEDED]);
      expect(task.attempt).toBe(1);
      expect(runs.get(`two-${round}-join`)).toBe(1);
    }
  });
});
