/**
 * One fault test's world: a deployment (Redis and PostgreSQL, shared or private, with a key
 * prefix and a schema of its own), its server and worker processes, TCP balancers in front of
 * its servers, a client, the load (`SubmitBatch` of 1,000), polling of the books' progress, and
 * the clean-up. Figures are attached to the test (`annotate`) and, when `TASKWIRE_FAULT_REPORT`
 * names a file, appended to it as JSON lines.
 */
import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { batchItem, createClient, type SubmitOptions, type TaskwireClient } from "../../../src/client/index.js";
import { dropSchema, TEST_DATABASE_URL } from "../../support/database.js";
import { deleteKeysWithPrefix, TEST_REDIS_URL } from "../../support/redis.js";
import { eventually } from "../../support/server.js";
import { openLedger, type Books, type Ledger } from "./books.js";
import { work } from "./fault-tasks.js";
import {
  startServerProcess,
  startWorkerProcess,
  tails,
  uniqueNames,
  type Deployment,
  type ServerProcess,
  type TestProcess,
  type WorkerProcessOptions,
} from "./processes.js";
import { startTcpBalancer, type TcpBalancer } from "./tcp-balancer.js";

/** Time one fault test may take: processes start, a few thousand tasks, the fault, the recovery. */
export const FAULT_TEST_TIMEOUT_MS = 120_000;

/** Where a scenario keeps its state; the names are made up per scenario. */
export interface Backends {
  redisUrl: string;
  databaseUrl: string;
  /** Deletes the scenario's keys afterwards (not needed on a private Redis). */
  deleteKeys?: (prefix: string) => Promise<void>;
  leaseTimeout?: string;
  shutdownGrace?: string;
  /** More settings of the servers (`Deployment.serverEnv`). */
  serverEnv?: Record<string, string>;
}

/** A running fault scenario; see the file header. */
export class Scenario {
  readonly deployment: Deployment;
  readonly executionLog: string;
  readonly ledger: Ledger;
  readonly processes: TestProcess[] = [];
  /** Ids acknowledged by `SubmitBatch`. */
  readonly acknowledged: string[] = [];
  readonly #clients: TaskwireClient[] = [];
  readonly #balancers: TcpBalancer[] = [];
  readonly #directory: string;
  readonly #backends: Backends;

  private constructor(backends: Backends, directory: string) {
    this.#backends = backends;
    this.#directory = directory;
    this.deployment = {
      redisUrl: backends.redisUrl,
      databaseUrl: backends.databaseUrl,
      ...uniqueNames(),
      leaseTimeout: backends.leaseTimeout,
      shutdownGrace: backends.shutdownGrace,
      serverEnv: backends.serverEnv,
    };
    this.executionLog = join(directory, "executions.log");
    this.ledger = openLedger(backends.databaseUrl, this.deployment.schema);
  }

  /** Prepares a scenario (nothing runs yet). */
  static async create(backends: Backends): Promise<Scenario> {
    return new Scenario(backends, await mkdtemp(join(tmpdir(), "taskwire-fault-")));
  }

  /** Starts a server process (on `port`, or a free one). */
  async startServer(name: string, port = 0): Promise<ServerProcess> {
    const server = await startServerProcess(this.deployment, name, port);
    this.processes.push(server);
    return server;
  }

  /** Starts a worker process against `url`. */
  startWorker(url: string, options: Omit<WorkerProcessOptions, "executionLog">): TestProcess {
    const worker = startWorkerProcess(url, { ...options, executionLog: this.executionLog });
    this.processes.push(worker);
    return worker;
  }

  /** A TCP balancer over the servers listening on `ports`, closed with the scenario. */
  async startBalancer(ports: readonly number[]): Promise<TcpBalancer> {
    const balancer = await startTcpBalancer(ports);
    this.#balancers.push(balancer);
    return balancer;
  }

  /** A client of `url`, closed with the scenario. */
  client(url: string): TaskwireClient {
    const client = createClient({ url });
    this.#clients.push(client);
    return client;
  }

  /** Waits until `count` workers serving `fault.work` are connected to the deployment. */
  async workersConnected(client: TaskwireClient, count: number, type = "fault.work"): Promise<void> {
    await eventually(
      async () => ((await client.listTypes()).find((t) => t.name === type)?.workerCount ?? 0) >= count,
      30_000,
      `${count} workers`,
    );
  }

  /**
   * Submits `count` `fault.work` tasks in `SubmitBatch`es of 1,000 and keeps the acknowledged ids.
   * @returns the ids acknowledged by this call.
   */
  async submit(client: TaskwireClient, count: number, input: { ms?: number } = {}, options?: SubmitOptions): Promise<string[]> {
    const ids: string[] = [];
    for (let sent = 0; sent < count; sent += 1000) {
      const size = Math.min(1000, count - sent);
      const handles = await client.submitBatch(Array.from({ length: size }, () => batchItem(work, input, options))).catch((error: unknown) => {
        throw new Error(`SubmitBatch failed: ${String(error)}\n${this.tails()}`, { cause: error });
      });
      ids.push(...handles.map((handle) => handle.id));
    }
    this.acknowledged.push(...ids);
    return ids;
  }

  /** Waits until at least `count` tasks are terminal (e.g. the moment to inject a fault). */
  async finished(count: number, timeoutMs = 60_000): Promise<void> {
    await eventually(async () => (await this.ledger.finished()) >= count, timeoutMs, `${count} terminal tasks`);
  }

  /** Waits until every task of `ids` is running. */
  async running(ids: readonly string[], timeoutMs = 60_000): Promise<void> {
    await eventually(async () => (await this.ledger.running(ids)) >= ids.length, timeoutMs, `${ids.length} running tasks`);
  }

  /** Waits until every stored task is terminal, then reads the books. */
  async settle(timeoutMs = 90_000): Promise<Books> {
    try {
      await eventually(
        async () => (await this.ledger.unfinished()) === 0 && (await this.ledger.finished()) >= this.acknowledged.length,
        timeoutMs,
        "every task to be terminal",
      );
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tails(this.processes)}`, { cause: error });
    }
    return this.ledger.books(this.acknowledged, this.executionLog);
  }

  /** Attaches the figures to the test and appends them to `TASKWIRE_FAULT_REPORT`, if set. */
  async report(fault: string, books: Books, extra: Record<string, number | string> = {}, annotate?: (message: string) => Promise<unknown>): Promise<void> {
    const figures = { fault, ...books, ...extra };
    await annotate?.(JSON.stringify(figures));
    const file = process.env.TASKWIRE_FAULT_REPORT;
    if (file) await appendFile(file, `${JSON.stringify(figures)}\n`);
  }

  /** The last lines of every process's output (for a failed expectation's message). */
  tails(lines = 30): string {
    return tails(this.processes, lines);
  }

  /**
   * Closes the balancers, kills every process, closes the clients, drops the schema and the
   * keys. When `TASKWIRE_FAULT_LOGS` names a directory, every process's output is written there
   * first.
   */
  async cleanup(): Promise<void> {
    await Promise.all(this.#balancers.map((balancer) => balancer.close()));
    for (const process of this.processes) process.kill("SIGKILL");
    await Promise.all(this.processes.map((process) => process.exited));
    const logs = process.env.TASKWIRE_FAULT_LOGS;
    if (logs) {
      await mkdir(logs, { recursive: true });
      await Promise.all(this.processes.map((p) => writeFile(join(logs, `${this.deployment.prefix}-${p.name}.log`), p.output)));
    }
    for (const client of this.#clients) client.close();
    await this.ledger.close();
    await Promise.allSettled([
      dropSchema(this.deployment.schema, this.#backends.databaseUrl),
      this.#backends.deleteKeys?.(this.deployment.prefix),
    ]);
    await rm(this.#directory, { recursive: true, force: true });
  }
}

/** A scenario on the shared Redis and PostgreSQL of the tests (its own prefix and schema). */
export function sharedScenario(options: Pick<Backends, "leaseTimeout" | "shutdownGrace"> = {}): Promise<Scenario> {
  return Scenario.create({
    redisUrl: TEST_REDIS_URL,
    databaseUrl: TEST_DATABASE_URL,
    deleteKeys: async (prefix) => {
      await deleteKeysWithPrefix(prefix);
    },
    ...options,
  });
}
