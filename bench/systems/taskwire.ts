/**
 * Taskwire under test: a `taskwire server` process on fresh state (a new PostgreSQL schema and
 * Redis prefix, or a new data directory for the embedded default), the bench's gRPC client,
 * and the worker process's SDK `Worker`.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import postgres from "postgres";
import { Redis } from "ioredis";
import { batchItem, createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { wallClockMs } from "../clock.js";
import { readRss, startServerProcess, type ServerProcess, type WorkerHost } from "../processes.js";
import { noop, stamp } from "../tasks.js";
import { deleteKeys, keyBytes } from "./redis-tools.js";
import type { QueueSystem, RoundTrip, SystemName } from "./system.js";

/** Where the production configuration keeps its state. */
export interface ExternalStores {
  redisUrl: string;
  databaseUrl: string;
}

/** Taskwire's two back ends (issue 4): Redis + PostgreSQL, or the embedded default (PGlite + in-process broker). */
export type Backend = "redis+postgres" | "embedded";

export class TaskwireSystem implements QueueSystem {
  readonly #client: TaskwireClient;
  #closed = false;

  private constructor(
    readonly name: SystemName,
    private readonly server: ServerProcess,
    private readonly host: WorkerHost,
    private readonly cleanUp: () => Promise<void>,
    private readonly external: { redis: Redis; sql: postgres.Sql; schema: string; prefix: string } | undefined,
  ) {
    this.#client = createClient({ url: server.url });
  }

  /**
   * Starts a server on fresh state and declares the bench's task types (a worker connects once,
   * with an empty queue, as every deployment's first worker does).
   * @param name the results column: "taskwire", or the back end's name in scenario 6.
   */
  static async create(options: { backend: Backend; stores: ExternalStores; host: WorkerHost; name?: SystemName }): Promise<TaskwireSystem> {
    const id = randomBytes(4).toString("hex");
    const schema = `twbench_${id}`;
    const prefix = `twbench-${id}`;
    const { redisUrl, databaseUrl } = options.stores;
    let env: Record<string, string | undefined>;
    let cleanUpStores: () => Promise<void>;
    let external: { redis: Redis; sql: postgres.Sql; schema: string; prefix: string } | undefined;
    if (options.backend === "embedded") {
      const dataDir = await mkdtemp(join(tmpdir(), "taskwire-bench-"));
      env = { TASKWIRE_DATA_DIR: dataDir, TASKWIRE_REDIS_URL: undefined, TASKWIRE_DATABASE_URL: undefined };
      cleanUpStores = () => rm(dataDir, { recursive: true, force: true });
    } else {
      env = { TASKWIRE_REDIS_URL: redisUrl, TASKWIRE_DATABASE_URL: databaseUrl, TASKWIRE_DATABASE_SCHEMA: schema, TASKWIRE_REDIS_PREFIX: prefix };
      const stores = { redis: new Redis(redisUrl), sql: postgres(databaseUrl, { max: 1, onnotice: () => {} }), schema, prefix };
      external = stores;
      cleanUpStores = async () => {
        try {
          await stores.sql.unsafe(`drop schema if exists "${schema}" cascade`);
        } finally {
          await stores.sql.end();
        }
        await deleteKeys(stores.redis, `${prefix}:*`);
        await stores.redis.quit();
      };
    }
    let server: ServerProcess;
    try {
      server = await startServerProcess(env);
    } catch (error) {
      await cleanUpStores();
      throw error;
    }
    const system = new TaskwireSystem(options.name ?? "taskwire", server, options.host, cleanUpStores, external);
    try {
      await options.host.startWorker({ url: server.url }, "bench-declare", 1);
      await options.host.stopWorker();
    } catch (error) {
      await system.close();
      throw error;
    }
    return system;
  }

  async submitBatch(queue: string, count: number, priorities?: readonly number[]): Promise<void> {
    const items = Array.from({ length: count }, (_, i) => batchItem(noop, {}, { queue, priority: priorities?.[i] }));
    await this.#client.submitBatch(items);
  }

  /** Submits one batch of no-op tasks to `queue`, all with the concurrency key `key` (scenario 7, fairness). */
  async submitKeyed(queue: string, count: number, key: string): Promise<void> {
    await this.#client.submitBatch(Array.from({ length: count }, () => batchItem(noop, {}, { queue, concurrencyKey: key })));
  }

  /** The start time (epoch ms) of each task of `queue` that succeeded, with its concurrency key, in start order. */
  async startsByKey(queue: string): Promise<{ key: string; startedAt: number }[]> {
    const starts: { key: string; startedAt: number }[] = [];
    let pageToken = "";
    do {
      const page = await this.#client.listTasks({ states: [TaskState.SUCCEEDED], queue, pageSize: 1000, pageToken });
      for (const task of page.tasks) if (task.startTime) starts.push({ key: task.concurrencyKey, startedAt: timestampMs(task.startTime) });
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return starts.sort((a, b) => a.startedAt - b.startedAt);
  }

  startWorker(queue: string, concurrency: number, task: "noop" | "stamp" = "noop", prefetch = 0): Promise<void> {
    return this.host.startWorker({ url: this.server.url }, queue, concurrency, task, prefetch);
  }

  workerFinished(count: number, timeoutMs: number): Promise<boolean> {
    return this.host.finished(count, timeoutMs);
  }

  stopWorker(): Promise<void> {
    return this.host.stopWorker();
  }

  async completedCount(queue: string): Promise<number> {
    const page = await this.#client.listTasks({ states: [TaskState.SUCCEEDED], queue, pageSize: 1 });
    return Number(page.totalCount);
  }

  /**
   * The recorded `finish_time`s, read after the measurement: on Redis + PostgreSQL straight from
   * the tasks table (one indexed query; the API would page through every task); on the
   * embedded back end, whose database the server process holds, through ListTasks.
   */
  async finishTimes(queue: string, first: number, last: number): Promise<[number, number]> {
    const times = this.external ? await this.#finishTimesSql(queue, first, last) : await this.#finishTimesApi(queue, first, last);
    const [from, to] = times;
    if (from === undefined || to === undefined) throw new Error(`${queue}: no completions ranked ${first} and ${last}`);
    return [from, to];
  }

  async #finishTimesSql(queue: string, first: number, last: number): Promise<(number | undefined)[]> {
    if (!this.external) return [];
    const { sql, schema } = this.external;
    const rank = async (offset: number) => {
      const rows = await sql.unsafe<{ finished_at: Date }[]>(
        `select finished_at from "${schema}".tasks where queue = $1 and state = 'SUCCEEDED' order by finished_at offset $2 limit 1`,
        [queue, offset],
      );
      return rows[0]?.finished_at.getTime();
    };
    return Promise.all([rank(first), rank(last)]);
  }

  async #finishTimesApi(queue: string, first: number, last: number): Promise<(number | undefined)[]> {
    const times: number[] = [];
    let pageToken = "";
    do {
      const page = await this.#client.listTasks({ states: [TaskState.SUCCEEDED], queue, pageSize: 1000, pageToken });
      for (const task of page.tasks) if (task.finishTime) times.push(timestampMs(task.finishTime));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    times.sort((a, b) => a - b);
    return [times[first], times[last]];
  }

  async roundTrip(queue: string): Promise<RoundTrip> {
    const submitted = wallClockMs();
    const handle = await this.#client.submit(stamp, {}, { queue });
    const task = await this.#client.getResult(handle.id, 10_000);
    const received = wallClockMs();
    if (task.state !== TaskState.SUCCEEDED) throw new Error(`the stamp task ended in state ${task.state}`);
    const startedAt = handle.outputOf(task).startedAt;
    if (typeof startedAt !== "number") throw new Error("the stamp task returned no start time");
    return { toStart: startedAt - submitted, toResult: received - submitted };
  }

  async redisBytes(queue: string): Promise<number> {
    if (!this.external) throw new Error("the embedded back end has no Redis");
    return (await keyBytes(this.external.redis, `${this.external.prefix}:{q:${queue}}:*`)).bytes;
  }

  async rss(): Promise<Awaited<ReturnType<QueueSystem["rss"]>>> {
    const [server, worker] = await Promise.all([readRss(this.server.pid), this.host.rss()]);
    return { server, worker };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.host.stopWorker();
    } finally {
      this.#client.close();
      await this.server.stop();
      await this.cleanUp();
    }
  }
}
