/**
 * The worker's process pool (`processes: N`, `taskwire worker start --processes N`): handlers
 * run in N child processes forked from `pool-process.ts`, so a handler that keeps its event loop
 * busy (a CPU-bound loop) cannot delay the worker's stream, its heartbeats and its other
 * attempts, and one that crashes its process (a native module's abort, `process.exit`, running
 * out of memory) takes only that process: its attempts fail as retryable with a
 * `PoolProcessExitedError` and the pool forks a new process.
 *
 * Child processes rather than worker threads: a thread shares the worker's process, so a crash,
 * `process.exit()` or an out-of-memory abort there still ends the worker, and the point of the
 * pool is that nothing a handler does can. The cost is a process per slot (memory, a start-up
 * that loads the task modules once) and that what crosses is data: the attempt's input, its
 * environment's values, and calls back for everything its task context does.
 *
 * An attempt goes to the process running the fewest attempts. An aborted attempt (cancel,
 * deadline, shutdown) is aborted in its process with the same reason; a handler that has not
 * ended `killAfterAbortMs` later (a busy loop does not look at its signal) has its process
 * killed, so a cancel ends even a CPU-bound handler.
 *
 * Keep in line with the README's "Worker pool" section.
 */
import { fork, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { ErrorKind } from "../../../gen/taskwire/v1/task_pb.js";
import { unpackValue } from "../../common/any.js";
import type { Logger } from "../../core/logger.js";
import { WorkerConfigError } from "../errors.js";
import { ReportedFailure, type AttemptEnvironment, type HandlerInvoker } from "../task-runner.js";
import { describeAbortReason } from "./abort-reason.js";
import { environmentTransfer } from "./environment-transfer.js";
import type { FromPoolProcess, ToPoolProcess } from "./pool-messages.js";

/** Options of a {@link ProcessPool}. */
export interface ProcessPoolOptions {
  /** How many processes. */
  processes: number;
  /** Absolute paths of the modules defining the tasks, loaded in every process. */
  modules: readonly string[];
  /** The task types the worker serves: each process checks its modules define them all. */
  types: readonly string[];
  logger: Logger;
  /** How long an aborted handler may take to end before its process is killed. @default 5 s */
  killAfterAbortMs?: number;
}

/** An attempt running in a pool process. */
interface PooledAttempt {
  env: AttemptEnvironment;
  settle(outcome: { value: unknown } | { error: unknown }): void;
}

/** One process of the pool. */
interface PoolMember {
  child: ChildProcess;
  ready: boolean;
  attempts: Map<number, PooledAttempt>;
  /** Set when the process exited. */
  exited: Promise<void>;
}

const PINO_LEVELS: Record<number, "trace" | "debug" | "info" | "warn" | "error" | "fatal"> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

/** The entry point of the pool processes, and what Node needs to run it. */
function processEntry(): { path: URL; execArgv: string[] } {
  const fromSources = import.meta.url.endsWith(".ts");
  const path = new URL(fromSources ? "./pool-process.ts" : "./pool-process.js", import.meta.url);
  if (!fromSources) return { path, execArgv: [...process.execArgv] };
  // Run from its TypeScript sources: the process loads them through tsx, as the CLI does.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return { path, execArgv: [...process.execArgv, "--import", tsx] };
}

/** Runs handlers in a pool of child processes; see the file header. */
export class ProcessPool {
  readonly #options: ProcessPoolOptions;
  readonly #members = new Set<PoolMember>();
  #nextId = 0;
  #closed = false;
  /** Attempts waiting for a ready process (all of them restarting). */
  #waiting: Array<() => void> = [];
  /** Consecutive processes that exited before they were ready. */
  #failedStarts = 0;
  /** `start()` succeeded: from now on, processes that exit are replaced. */
  #started = false;

  constructor(options: ProcessPoolOptions) {
    this.#options = options;
  }

  /** Number of processes running (ready or starting). */
  get size(): number {
    return this.#members.size;
  }

  /** The pids of the processes (tests, logs). */
  get pids(): number[] {
    return [...this.#members].flatMap((member) => (member.child.pid === undefined ? [] : [member.child.pid]));
  }

  /**
   * Forks the processes and waits until each has loaded the task modules.
   * @throws WorkerConfigError when the modules do not load or do not define every served type.
   */
  async start(): Promise<void> {
    const started = Array.from({ length: this.#options.processes }, () => this.#fork());
    try {
      await Promise.all(started);
    } catch (error) {
      await this.close();
      throw error;
    }
    this.#started = true;
  }

  /** Runs the handler of an attempt in a pool process: the {@link HandlerInvoker} of pooled workers. */
  readonly invoke: HandlerInvoker = async (definition, _value, _ctx, input, env) => {
    const member = await this.#member();
    const id = ++this.#nextId;
    const { signal } = env;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      this.#send(member, { t: "abort", id, reason: describeAbortReason(signal.reason) });
      killTimer = setTimeout(() => {
        this.#options.logger.warn({ taskId: env.taskId, attempt: env.attempt, pid: member.child.pid }, "an aborted handler did not end: killing its pool process");
        member.child.kill("SIGKILL");
      }, this.#options.killAfterAbortMs ?? 5_000);
    };
    try {
      return await new Promise<unknown>((resolve, reject) => {
        member.attempts.set(id, {
          env,
          settle: (outcome) => ("error" in outcome ? reject(outcome.error) : resolve(outcome.value)),
        });
        const { data, calls } = environmentTransfer(env);
        try {
          this.#send(member, { t: "run", id, type: definition.name, input: toBinary(AnySchema, input), data, calls, logLevel: env.logger.level });
        } catch (error) {
          const fields = Object.keys(data).join(", ");
          throw new Error(`the attempt's environment cannot be sent to a pool process (fields: ${fields}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      }).then((value) => {
        const outcome = value as { typeUrl: string; value: Uint8Array };
        return unpackValue(definition.spec.output, create(AnySchema, outcome));
      });
    } finally {
      signal.removeEventListener("abort", onAbort);
      clearTimeout(killTimer);
      member.attempts.delete(id);
    }
  };

  /** Ends every process (their running attempts fail as their process exited). Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const resolve of this.#waiting.splice(0)) resolve();
    const members = [...this.#members];
    for (const member of members) {
      if (member.child.connected) member.child.disconnect();
    }
    const timer = setTimeout(() => {
      for (const member of members) member.child.kill("SIGKILL");
    }, 2_000);
    await Promise.all(members.map((member) => member.exited));
    clearTimeout(timer);
  }

  /** A ready process running the fewest attempts; waits while none is ready. */
  async #member(): Promise<PoolMember> {
    for (;;) {
      if (this.#closed) throw new ReportedFailure(poolClosedFailure());
      let best: PoolMember | undefined;
      for (const member of this.#members) {
        if (member.ready && (!best || member.attempts.size < best.attempts.size)) best = member;
      }
      if (best) return best;
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
  }

  #send(member: PoolMember, message: ToPoolProcess): void {
    if (!member.child.connected) return;
    member.child.send(message, (error) => {
      if (error) this.#options.logger.warn({ err: error, pid: member.child.pid }, "could not send to a pool process");
    });
  }

  /** Forks one process; resolves once it is ready. */
  #fork(): Promise<void> {
    const { logger } = this.#options;
    const entry = processEntry();
    const child = fork(entry.path, [], { execArgv: entry.execArgv, serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let markExited!: () => void;
    const member: PoolMember = { child, ready: false, attempts: new Map(), exited: new Promise<void>((resolve) => (markExited = resolve)) };
    this.#members.add(member);
    return new Promise<void>((resolve, reject) => {
      let fatal: string | undefined;
      child.on("message", (message: FromPoolProcess) => {
        switch (message.t) {
          case "ready":
            member.ready = true;
            this.#failedStarts = 0;
            logger.debug({ pid: message.pid }, "pool process ready");
            resolve();
            for (const wake of this.#waiting.splice(0)) wake();
            return;
          case "fatal":
            fatal = message.message;
            child.kill("SIGKILL");
            return;
          default:
            this.#fromProcess(member, message);
        }
      });
      child.once("error", (error) => logger.warn({ err: error, pid: child.pid }, "pool process error"));
      child.once("exit", (code, signal) => {
        this.#members.delete(member);
        markExited();
        const how = signal ? `on ${signal}` : `with code ${code}`;
        const failure = {
          kind: ErrorKind.TASK_ERROR,
          name: "PoolProcessExitedError",
          message: `the pool process running this attempt (pid ${child.pid}) exited ${how} before the attempt ended; the worker started another process`,
          retryable: true,
        };
        for (const attempt of member.attempts.values()) attempt.settle({ error: new ReportedFailure(failure) });
        member.attempts.clear();
        if (!member.ready) {
          const error = new WorkerConfigError(fatal ?? `a pool process exited ${how} before it loaded the task modules`);
          reject(error);
          // At start, start() rejects with the error; later, a replacement is tried again.
          if (this.#started) this.#replace(error.message);
          return;
        }
        if (this.#closed) return;
        logger.warn({ pid: child.pid, code, signal }, `a pool process exited ${how}; starting another`);
        this.#replace(undefined);
      });
      this.#send(member, { t: "init", modules: [...this.#options.modules], types: [...this.#options.types] });
    });
  }

  /** Forks a replacement, after a back-off when processes keep failing to start. */
  #replace(startError: string | undefined): void {
    if (this.#closed) return;
    const delayMs = startError === undefined ? 0 : Math.min(5_000, 100 * 2 ** this.#failedStarts++);
    if (startError !== undefined) this.#options.logger.error({ delayMs }, `a pool process failed to start: ${startError}`);
    setTimeout(() => {
      if (!this.#closed) this.#fork().catch(() => undefined);
    }, delayMs).unref();
  }

  #fromProcess(member: PoolMember, message: Exclude<FromPoolProcess, { t: "ready" | "fatal" }>): void {
    const attempt = member.attempts.get(message.id);
    if (!attempt) return;
    switch (message.t) {
      case "call": {
        const fn = (attempt.env as unknown as Record<string, unknown>)[message.name];
        if (typeof fn === "function") (fn as (...args: unknown[]) => void).apply(attempt.env, message.args);
        return;
      }
      case "log":
        writeLine(attempt.env.logger, message.line);
        return;
      case "done": {
        const { outcome } = message;
        if (outcome.kind === "output") attempt.settle({ value: { typeUrl: outcome.typeUrl, value: outcome.value } });
        else if (outcome.kind === "failure") attempt.settle({ error: new ReportedFailure(outcome.failure) });
        else attempt.settle({ error: attempt.env.signal.aborted ? attempt.env.signal.reason : new ReportedFailure(cancelledWithoutAbort(outcome.reason)) });
      }
    }
  }
}

/** Writes a pino line of a pool process with the attempt's logger, at its level and with its fields. */
function writeLine(logger: Logger, line: string): void {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(line) as Record<string, unknown>;
  } catch {
    logger.info(line.trimEnd());
    return;
  }
  const { level, msg, time: _time, ...fields } = parsed;
  const name = PINO_LEVELS[typeof level === "number" ? level : 30] ?? "info";
  logger[name](fields, typeof msg === "string" ? msg : "");
}

function poolClosedFailure() {
  return { kind: ErrorKind.WORKER_LOST, name: "WorkerShutdownError", message: "the worker's process pool is closed", retryable: true };
}

function cancelledWithoutAbort(reason: string) {
  return { kind: ErrorKind.TASK_ERROR, name: "Error", message: `the pool process reported a cancel that was not asked for: ${reason}`, retryable: true };
}
