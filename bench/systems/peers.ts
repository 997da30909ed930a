/**
 * The durable peers (issue 16), systems that keep their queue in PostgreSQL alone: graphile-worker
 * and BullMQ on its PostgreSQL backend, each in a schema of its own on the bench's PostgreSQL,
 * producer in the bench process, worker in the peers' worker process (`workers/peers-worker.ts`).
 * They take part in the processing rows only (scenario 7): submissions are bulk inserts
 * (`addJobs`, `addBulk`), and what each keeps of a completed job differs:
 *
 * - graphile-worker deletes a job when it completes (nothing is kept, no result): a completion
 *   counts once its row is gone, and the window's times are the handler's finish times.
 * - BullMQ on PostgreSQL keeps completed jobs and their return values (its default, as on Redis):
 *   completions and their `finished_at_ms` are read from its `job` table.
 */
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { Logger, makeWorkerUtils, type WorkerUtils } from "graphile-worker";
import postgres from "postgres";
import type { WorkerHost } from "../processes.js";
import type { QueueSystem, RoundTrip } from "./system.js";

interface BullmqQueue {
  addBulk(jobs: { name: string; data: object }[]): Promise<unknown>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}
const bullmq = createRequire(import.meta.url)("bullmq") as {
  Queue: new (name: string, options: object, backend: unknown) => BullmqQueue;
  createPostgresBackend: unknown;
};

const SILENT = new Logger(() => () => {});

/** What the two peers share: a schema of their own, the worker process, the unsupported scenarios. */
abstract class PostgresPeer {
  protected readonly schema: string;
  protected readonly sql: postgres.Sql;
  #closed = false;

  constructor(
    protected readonly databaseUrl: string,
    protected readonly host: WorkerHost,
    schemaPrefix: string,
  ) {
    this.schema = `${schemaPrefix}_${randomBytes(4).toString("hex")}`;
    this.sql = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  }

  workerFinished(count: number, timeoutMs: number): Promise<boolean> {
    return this.host.finished(count, timeoutMs);
  }

  stopWorker(): Promise<void> {
    return this.host.stopWorker();
  }

  roundTrip(): Promise<RoundTrip> {
    throw new Error("the durable peers take part in scenario 7 only");
  }

  async redisBytes(): Promise<number> {
    return 0;
  }

  async rss(): Promise<Awaited<ReturnType<QueueSystem["rss"]>>> {
    return { worker: await this.host.rss() };
  }

  protected abstract closeProducer(): Promise<void>;

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.host.stopWorker();
      await this.closeProducer();
    } finally {
      await this.sql.unsafe(`drop schema if exists "${this.schema}" cascade`);
      await this.sql.end({ timeout: 5 });
    }
  }
}

/** graphile-worker: jobs of task identifier `<queue>`; completed jobs are deleted. */
export class GraphileSystem extends PostgresPeer implements QueueSystem {
  readonly name = "graphile-worker";
  #utils: Promise<WorkerUtils> | undefined;
  readonly #submitted = new Map<string, number>();
  /** Completions of the queue before the running worker started: its handler's first call has this rank. */
  #runBase = 0;

  constructor(databaseUrl: string, host: WorkerHost) {
    super(databaseUrl, host, "gwbench");
  }

  #workerUtils(): Promise<WorkerUtils> {
    this.#utils ??= (async () => {
      const utils = await makeWorkerUtils({ connectionString: this.databaseUrl, schema: this.schema, logger: SILENT });
      await utils.migrate();
      return utils;
    })();
    return this.#utils;
  }

  /** `addJobs` (one statement); graphile-worker's priorities run numerically smaller first. */
  async submitBatch(queue: string, count: number, priorities?: readonly number[]): Promise<void> {
    const utils = await this.#workerUtils();
    await utils.addJobs(Array.from({ length: count }, (_, i) => ({ identifier: queue, payload: {}, priority: priorities === undefined ? 0 : 11 - (priorities[i] ?? 5) })));
    this.#submitted.set(queue, (this.#submitted.get(queue) ?? 0) + count);
  }

  async startWorker(queue: string, concurrency: number): Promise<void> {
    await this.#workerUtils();
    this.#runBase = await this.completedCount(queue);
    await this.host.startWorker({ url: this.databaseUrl, prefix: `graphile:${this.schema}` }, queue, concurrency, "noop");
  }

  /** Jobs submitted minus those still in its table: a completed job is deleted. */
  async completedCount(queue: string): Promise<number> {
    const [row] = await this.sql.unsafe<{ n: number }[]>(
      `select count(*)::int as n from "${this.schema}"._private_jobs j join "${this.schema}"._private_tasks t on t.id = j.task_id where t.identifier = $1`,
      [queue],
    );
    return (this.#submitted.get(queue) ?? 0) - (row?.n ?? 0);
  }

  /** The handler's finish times: graphile-worker records none. */
  finishTimes(_queue: string, first: number, last: number): Promise<[number, number]> {
    return this.host.finishTimes(first - this.#runBase, last - this.#runBase);
  }

  protected async closeProducer(): Promise<void> {
    if (this.#utils) await (await this.#utils).release();
  }
}

/** BullMQ on its PostgreSQL backend, completed jobs kept (its default). */
export class BullmqPostgresSystem extends PostgresPeer implements QueueSystem {
  readonly name = "bullmq-pg";
  readonly #queues = new Map<string, BullmqQueue>();

  constructor(databaseUrl: string, host: WorkerHost) {
    super(databaseUrl, host, "bmpgbench");
  }

  async #queue(name: string): Promise<BullmqQueue> {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new bullmq.Queue(name, { connection: { connectionString: this.databaseUrl, schema: this.schema, migrate: true } }, bullmq.createPostgresBackend);
      this.#queues.set(name, queue);
      await queue.waitUntilReady();
    }
    return queue;
  }

  /** `addBulk`; priorities as on Redis (BullMQ's 1 is the most urgent). */
  async submitBatch(queue: string, count: number, priorities?: readonly number[]): Promise<void> {
    const jobs = Array.from({ length: count }, (_, i) => {
      const priority = priorities?.[i];
      return { name: "noop", data: {}, ...(priority === undefined ? {} : { opts: { priority: 11 - priority } }) };
    });
    await (await this.#queue(queue)).addBulk(jobs);
  }

  async startWorker(queue: string, concurrency: number): Promise<void> {
    await this.#queue(queue);
    await this.host.startWorker({ url: this.databaseUrl, prefix: `bullmq-pg:${this.schema}` }, queue, concurrency, "noop");
  }

  async completedCount(queue: string): Promise<number> {
    const [row] = await this.sql.unsafe<{ n: number }[]>(`select count(*)::int as n from "${this.schema}".job where queue = $1 and state = 'completed'`, [queue]);
    return row?.n ?? 0;
  }

  /** `finished_at_ms` of the completed jobs ranked `first` and `last` in finish order. */
  async finishTimes(queue: string, first: number, last: number): Promise<[number, number]> {
    const at = async (rank: number): Promise<number> => {
      const [row] = await this.sql.unsafe<{ t: string }[]>(
        `select finished_at_ms::text as t from "${this.schema}".job where queue = $1 and state = 'completed' order by finished_at_ms, seq offset $2 limit 1`,
        [queue, rank],
      );
      if (row === undefined) throw new Error(`${queue}: no completion ranked ${rank}`);
      return Number(row.t);
    };
    return [await at(first), await at(last)];
  }

  protected async closeProducer(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
  }
}
