/**
 * The entry point of a worker's pool process (`process-pool.ts` forks it): loads the task
 * modules, then runs the attempts the worker sends, one `runAttempt` each, without the worker's
 * middleware and hooks (they run in the worker's process, around this run). Everything the task
 * context does is sent back to the worker (`pool-messages.ts`). The process ends when the worker
 * closes the channel (or dies).
 */
import { fromBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import { pino } from "pino";
import { loadTaskModules } from "../../cli/task-modules.js";
import type { TaskDefinition } from "../../common/task-definition.js";
import { runAttempt, type AttemptEnvironment, type AttemptOutcome } from "../task-runner.js";
import { abortReasonError } from "./abort-reason.js";
import { receivedEnvironment } from "./environment-transfer.js";
import type { FromPoolProcess, PooledOutcome, ToPoolProcess } from "./pool-messages.js";

const definitions = new Map<string, TaskDefinition>();
const running = new Map<number, AbortController>();

function send(message: FromPoolProcess): void {
  if (process.connected) process.send?.(message);
}

function pooledOutcome(outcome: AttemptOutcome): PooledOutcome {
  if (outcome.kind === "output") return { kind: "output", typeUrl: outcome.output.typeUrl, value: outcome.output.value };
  return outcome;
}

async function init(modules: string[], types: string[]): Promise<void> {
  try {
    for (const task of await loadTaskModules(modules, process.cwd())) definitions.set(task.name, task);
  } catch (error) {
    send({ t: "fatal", message: `cannot load the task modules: ${error instanceof Error ? error.message : String(error)}` });
    return;
  }
  const missing = types.filter((type) => !definitions.has(type));
  if (missing.length > 0) {
    send({ t: "fatal", message: `the task modules ${modules.join(", ")} do not define ${missing.map((type) => `"${type}"`).join(", ")}` });
    return;
  }
  send({ t: "ready", pid: process.pid });
}

function run(message: Extract<ToPoolProcess, { t: "run" }>): void {
  const { id, type } = message;
  const controller = new AbortController();
  running.set(id, controller);
  // The attempt's log lines go to the worker, which writes them with its own logger's scope.
  const logger = pino({ level: message.logLevel, base: undefined }, { write: (line: string) => send({ t: "log", id, line }) });
  const env: Record<string, unknown> = { ...receivedEnvironment(message.data, definitions), signal: controller.signal, logger };
  for (const name of message.calls) {
    env[name] = (...args: unknown[]): void => {
      try {
        send({ t: "call", id, name, args });
      } catch (error) {
        // An argument the channel cannot carry (a function, a class with private state).
        logger.warn({ err: error, call: name }, "a task context call could not be sent to the worker");
      }
    };
  }
  void runAttempt(definitions.get(type), type, fromBinary(AnySchema, message.input), env as unknown as AttemptEnvironment, { hooks: false })
    .then((outcome) => send({ t: "done", id, outcome: pooledOutcome(outcome) }))
    .finally(() => running.delete(id));
}

process.on("message", (message: ToPoolProcess) => {
  switch (message.t) {
    case "init":
      void init(message.modules, message.types);
      return;
    case "run":
      run(message);
      return;
    case "abort":
      running.get(message.id)?.abort(abortReasonError(message.reason));
      return;
  }
});

// The worker closed the channel (it stops, or died): nothing is left to report to.
process.on("disconnect", () => process.exit(0));
