/**
 * `taskwire submit <type>`: submits a task by its type's name, optionally waits for it or
 * follows its progress live.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { Option, type Command } from "commander";
import { MAX_ATTEMPTS_LIMIT, PRIORITY_MAX, PRIORITY_MIN } from "../../core/limits.js";
import type { CliContext } from "../context.js";
import { jsonLine, taskToJson } from "../format.js";
import { awaitOutcome, followCallsOf } from "../follow.js";
import { encodeInput, readStdinJson } from "../input.js";
import { collectLabel, collectValue, dateArg, durationArg, FROM_STDIN, inputArg, integerIn, queueArg } from "../options.js";

interface SubmitFlags {
  input?: JsonValue | typeof FROM_STDIN;
  priority?: number;
  queue?: string;
  delay?: number;
  runAt?: Date;
  timeout?: number;
  maxAttempts?: number;
  idempotencyKey?: string;
  key?: string;
  label?: Record<string, string>;
  dependsOn?: string[];
  onParentFailure?: "cancel" | "run";
  wait?: boolean;
  follow?: boolean;
  json?: boolean;
}

/** Adds `submit` to `program`. */
export function registerSubmitCommand(program: Command, ctx: CliContext): void {
  program
    .command("submit")
    .description("submit a task and print its id")
    .argument("<type>", "the task type's name (see `taskwire types`)")
    .option(
      "-i, --input <json>",
      "the input as JSON, @file, or @- for standard input: an object for JSON types (google.protobuf.Struct), the proto JSON of other known types (default: {})",
      inputArg(ctx.cwd),
    )
    .option("-p, --priority <n>", `higher runs first, ${PRIORITY_MIN} to ${PRIORITY_MAX} (default: the type's)`, integerIn(PRIORITY_MIN, PRIORITY_MAX))
    .option("-q, --queue <queue>", "queue (default: the type's, else by priority: > 5 high_priority, < 0 low_priority, otherwise default)", queueArg)
    .addOption(new Option("--delay <duration>", "run after this delay, like 10s or 5m").argParser(durationArg).conflicts("runAt"))
    .option("--run-at <time>", "run at this ISO 8601 time, like 2030-01-31T12:00:00Z", dateArg)
    .option("--timeout <duration>", "per-attempt timeout, like 30s (default: the type's)", durationArg)
    .option("--max-attempts <n>", `attempts before the task fails, 1 to ${MAX_ATTEMPTS_LIMIT} (default: the type's)`, integerIn(1, MAX_ATTEMPTS_LIMIT))
    .option("--idempotency-key <key>", "submitting again with the same key returns the same task")
    .option("-k, --key <key>", "the task's concurrency key (a tenant, a repository): per-key limits and fairness count by it")
    .option("-l, --label <key=value>", "a label of the task (repeatable), for `tasks list --label`", collectLabel)
    .option("--depends-on <id>", "a task this one waits for (repeatable): it runs once they all succeeded", collectValue)
    .addOption(
      new Option("--on-parent-failure <policy>", "when a parent fails or is cancelled: cancel this task (and its waiting descendants), or run it anyway").choices([
        "cancel",
        "run",
      ]),
    )
    .option("-w, --wait", "wait for the task to end and print its result (the id goes to stderr, so stdout is the result alone)")
    .option("-f, --follow", "show live progress on stderr until the task ends, then print its result (the id goes to stderr too)")
    .option("--json", "print the task as proto JSON instead of its id and result")
    .action(async (type: string, flags: SubmitFlags, command: Command) => {
      const client = ctx.client(command);
      const call = { signal: ctx.signal };
      const input = flags.input === FROM_STDIN ? await readStdinJson(ctx) : (flags.input ?? {});
      // The catalog says which message the input is; a type it does not list goes as JSON and the
      // server answers NOT_FOUND for it.
      const inputType = (await client.listTypes(call)).find((entry) => entry.name === type)?.inputType;
      const handle = await client.submitByName(
        type,
        encodeInput(input, inputType, ctx.registry),
        {
          priority: flags.priority,
          queue: flags.queue,
          delay: flags.delay,
          runAt: flags.runAt,
          timeout: flags.timeout,
          maxAttempts: flags.maxAttempts,
          idempotencyKey: flags.idempotencyKey,
          concurrencyKey: flags.key,
          labels: flags.label,
          dependsOn: flags.dependsOn,
          onParentFailure: flags.onParentFailure,
        },
        call,
      );
      if (handle.existing) ctx.stderr.write(`an existing task has this idempotency key: ${handle.id}\n`);
      const waits = flags.follow === true || flags.wait === true;
      // Waiting, stdout is the result alone (`--wait | jq`); the id goes to stderr.
      if (waits) ctx.stderr.write(`submitted task ${handle.id}\n`);
      else if (!flags.json) ctx.stdout.write(`${handle.id}\n`);

      if (waits) {
        await awaitOutcome(ctx, followCallsOf(client, handle), flags);
      } else if (flags.json) {
        ctx.stdout.write(jsonLine(taskToJson(await handle.status(call), ctx.registry)));
      }
    });
}
