/**
 * `npm run bench [-- --quick]`: end-to-end figures of Taskwire on its two back ends, each server
 * and worker in its own process. Prints a Markdown table (median of the rounds, with min–max)
 * and writes it with the raw numbers to bench/results/latest.{md,json}.
 *
 * Scenarios, per back end:
 * - submit: tasks/s through SubmitBatch of 1,000, until durable (the call answers after the
 *   PostgreSQL insert);
 * - process: tasks/s from the moment a worker (concurrency 100) connects to a queue of N no-op
 *   tasks until all have succeeded.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { Redis } from "ioredis";
import { batchItem, createClient, TaskState, type TaskwireClient } from "../src/client/index.js";
import { noop } from "./tasks.js";
import { ROOT, startServerProcess, startWorkerProcess } from "./processes.js";

const quick = process.argv.includes("--quick");
const TASKS = quick ? 2_000 : 20_000;
const ROUNDS = quick ? 1 : 3;
const BATCH = 1_000;
const CONCURRENCY = 100;
const REDIS_URL = process.env.TASKWIRE_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const DATABASE_URL = process.env.TASKWIRE_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

type Backend = "embedded" | "redis+postgres";
interface Round {
  submitPerSecond: number;
  processPerSecond: number;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function succeeded(client: TaskwireClient): Promise<bigint> {
  return (await client.listTasks({ states: [TaskState.SUCCEEDED], pageSize: 1 })).totalCount;
}

/** One round on fresh state: declare the type, submit N tasks, then time a worker through them. */
async function round(backend: Backend): Promise<Round> {
  const id = randomBytes(4).toString("hex");
  const dataDir = backend === "embedded" ? await mkdtemp(join(tmpdir(), "taskwire-bench-")) : undefined;
  const schema = `bench_${id}`;
  const prefix = `bench-${id}`;
  const env =
    backend === "embedded"
      ? { TASKWIRE_DATA_DIR: dataDir, TASKWIRE_REDIS_URL: undefined, TASKWIRE_DATABASE_URL: undefined }
      : { TASKWIRE_REDIS_URL: REDIS_URL, TASKWIRE_DATABASE_URL: DATABASE_URL, TASKWIRE_DATABASE_SCHEMA: schema, TASKWIRE_REDIS_PREFIX: prefix };
  const server = await startServerProcess(env);
  const client = createClient({ url: server.url });
  try {
    // A burst worker declares the type and leaves at once (its queue is empty).
    const declarer = startWorkerProcess(server.url, 1, ["--burst"]);
    await declarer.exited;

    const started = performance.now();
    for (let sent = 0; sent < TASKS; sent += BATCH) {
      const count = Math.min(BATCH, TASKS - sent);
      await client.submitBatch(Array.from({ length: count }, () => batchItem(noop, {})));
    }
    const submitSeconds = (performance.now() - started) / 1000;

    const worker = startWorkerProcess(server.url, CONCURRENCY);
    await waitFor(async () => (await client.listTypes()).some((t) => t.workerCount > 0), "the worker to connect");
    const processStart = performance.now();
    await waitFor(async () => (await succeeded(client)) >= BigInt(TASKS), "every task to succeed");
    const processSeconds = (performance.now() - processStart) / 1000;
    await worker.stop();
    return { submitPerSecond: TASKS / submitSeconds, processPerSecond: TASKS / processSeconds };
  } finally {
    client.close();
    await server.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    else await cleanExternal(schema, prefix);
  }
}

async function cleanExternal(schema: string, prefix: string): Promise<void> {
  const sql = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  await sql.unsafe(`drop schema if exists "${schema}" cascade`);
  await sql.end();
  const redis = new Redis(REDIS_URL);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
  await redis.quit();
}

function stats(values: number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { median, min: sorted[0] ?? 0, max: sorted.at(-1) ?? 0 };
}

const fmt = (s: { median: number; min: number; max: number }) =>
  `${Math.round(s.median).toLocaleString("en")} (${Math.round(s.min).toLocaleString("en")}–${Math.round(s.max).toLocaleString("en")})`;

const backends: Backend[] = ["embedded", "redis+postgres"];
const results: Record<Backend, Round[]> = { embedded: [], "redis+postgres": [] };
for (let r = 0; r < ROUNDS; r++) {
  // Interleaved, so both back ends see the same machine conditions.
  for (const backend of backends) {
    const result = await round(backend);
    results[backend].push(result);
    console.error(`round ${r + 1}/${ROUNDS} ${backend}: submit ${Math.round(result.submitPerSecond)}/s, process ${Math.round(result.processPerSecond)}/s`);
  }
}

const rows = backends.map((backend) => {
  const submit = stats(results[backend].map((x) => x.submitPerSecond));
  const proc = stats(results[backend].map((x) => x.processPerSecond));
  return { backend, submit, process: proc };
});
const ratio = (rows[0]?.process.median ?? 0) / (rows[1]?.process.median ?? 1);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const table = [
  `Taskwire end to end, ${TASKS.toLocaleString("en")} no-op tasks, worker concurrency ${CONCURRENCY}, ${ROUNDS} round(s)${quick ? " (quick)" : ""}; median (min–max), tasks/s.`,
  `Machine: ${machine}.`,
  "",
  "| back end | submit (SubmitBatch of 1,000) | process (queued → succeeded) |",
  "|---|---|---|",
  ...rows.map((r) => `| ${r.backend} | ${fmt(r.submit)} | ${fmt(r.process)} |`),
  "",
  `Embedded / Redis+PostgreSQL processing ratio: ${ratio.toFixed(2)}.`,
].join("\n");
console.log(table);
await mkdir(join(ROOT, "bench/results"), { recursive: true });
await writeFile(join(ROOT, "bench/results/latest.md"), `${table}\n`);
await writeFile(
  join(ROOT, "bench/results/latest.json"),
  `${JSON.stringify({ date: new Date().toISOString(), machine, quick, tasks: TASKS, rounds: ROUNDS, results }, null, 2)}\n`,
);
