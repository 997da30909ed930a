/**
 * `taskwire schedules list|get|create|pause|resume|trigger|delete`: recurring tasks
 * (ScheduleService; reads need a `viewer` or `admin` key, changes an `admin` key), and
 * `taskwire schedules next <cron>`, which previews fire times without a server.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { Option, type Command } from "commander";
import type { Schedule } from "../../../gen/taskwire/v1/schedule_pb.js";
import { fireTimes, nextFireTimes } from "../../common/schedule-times.js";
import { InvalidArgumentError } from "../../core/errors.js";
import { MAX_ATTEMPTS_LIMIT, PRIORITY_MAX, PRIORITY_MIN } from "../../core/limits.js";
import type { CatchUpPolicyName, OverlapPolicyName } from "../../core/schedule-types.js";
import { UsageError, type CliContext } from "../context.js";
import { formatTime, jsonLine, taskToJson } from "../format.js";
import { encodeInput } from "../input.js";
import { collectLabel, dateArg, durationArg, integerIn, jsonArg, queueArg } from "../options.js";
import { formatFireTimes, formatScheduleDetails, formatScheduleTable, scheduleToJson, schedulesToJson } from "../schedule-format.js";

interface CreateFlags {
  cron?: string;
  every?: number;
  tz?: string;
  input?: JsonValue;
  queue?: string;
  priority?: number;
  timeout?: number;
  maxAttempts?: number;
  label?: Record<string, string>;
  start?: Date;
  end?: Date;
  jitter?: number;
  overlap?: OverlapPolicyName;
  catchUp?: CatchUpPolicyName;
  catchUpLimit?: number;
  description?: string;
  paused?: boolean;
  upsert?: boolean;
  json?: boolean;
}

/** Adds `schedules` and its subcommands to `program`. */
export function registerScheduleCommands(program: Command, ctx: CliContext): void {
  const schedules = program.command("schedules").description("recurring tasks: cron in a time zone, or intervals");
  const call = () => ({ signal: ctx.signal });
  const print = (schedule: Schedule, json: boolean | undefined, text: string) =>
    ctx.stdout.write(json ? jsonLine(scheduleToJson(schedule, ctx.registry)) : text);

  schedules
    .command("list")
    .description("list the schedules: when they fire, state, next and last fire, the last task's state")
    .option("-t, --type <type>", "only schedules of this task type")
    .option("--json", "print the schedules as proto JSON")
    .action(async (flags: { type?: string; json?: boolean }, command: Command) => {
      const list = await ctx.client(command).schedules.list({ type: flags.type }, call());
      ctx.stdout.write(flags.json ? jsonLine(schedulesToJson(list, ctx.registry)) : formatScheduleTable(list));
      if (!flags.json && list.length === 0) ctx.stderr.write("no schedules yet: `taskwire schedules create` makes one\n");
    });

  schedules
    .command("get")
    .description("one schedule, with its next fire times")
    .argument("<id>", "the schedule's id")
    .option("-n, --next <n>", "how many next fire times to show, 1 to 100", integerIn(1, 100), 5)
    .option("--json", "print the schedule as proto JSON")
    .action(async (id: string, flags: { next: number; json?: boolean }, command: Command) => {
      const schedule = await ctx.client(command).schedules.get(id, { next: flags.next }, call());
      print(schedule, flags.json, formatScheduleDetails(schedule, ctx.registry));
    });

  schedules
    .command("create")
    .description("create a schedule of a task type (with --upsert: or replace the one with this id)")
    .argument("<id>", "the schedule's id: 1 to 128 letters, digits and _ . : -")
    .argument("<type>", "the task type its fires submit (see `taskwire types`)")
    .addOption(new Option("--cron <expression>", 'a cron expression of 5 fields, or 6 with seconds first, like "30 2 * * *"').conflicts("every"))
    .option("--every <duration>", "a fixed interval instead of cron, like 15m (aligned to --start, else to the Unix epoch)", durationArg)
    .option("--tz <zone>", "the IANA time zone of --cron, like Europe/Vienna (default: UTC)")
    .option("-i, --input <json>", "the input of every fire, as JSON or @file (default: {})", jsonArg(ctx.cwd))
    .option("-q, --queue <queue>", "queue of the fired tasks (default: the type's)", queueArg)
    .option("-p, --priority <n>", "priority of the fired tasks (default: the type's)", integerIn(PRIORITY_MIN, PRIORITY_MAX))
    .option("--timeout <duration>", "per-attempt timeout of the fired tasks (default: the type's)", durationArg)
    .option("--max-attempts <n>", "attempts of the fired tasks (default: the type's)", integerIn(1, MAX_ATTEMPTS_LIMIT))
    .option("-l, --label <key=value>", "a label of the fired tasks (repeatable); every fire also carries schedule=<id>", collectLabel)
    .option("--start <time>", "fire from this ISO 8601 time on", dateArg)
    .option("--end <time>", "fire only before this ISO 8601 time", dateArg)
    .option("--jitter <duration>", "delay each fired task by a random time up to this, like 30s", durationArg)
    .addOption(new Option("--overlap <policy>", "while the previous fire's task runs (default: SKIP)").choices(["ALLOW", "SKIP", "CANCEL_PREVIOUS"]))
    .addOption(new Option("--catch-up <policy>", "fire times missed while no server ran (default: SKIP_MISSED)").choices(["SKIP_MISSED", "RUN_ONCE", "RUN_ALL"]))
    .option("--catch-up-limit <n>", "most missed fire times RUN_ALL fires (default: 100)", integerIn(1, 1000))
    .option("--description <text>", "shown by `schedules get`")
    .option("--paused", "create it paused")
    .option("--upsert", "replace the definition of an existing schedule with this id (it keeps its paused state)")
    .option("--json", "print the schedule as proto JSON")
    .action(async (id: string, type: string, flags: CreateFlags, command: Command) => {
      if (flags.cron === undefined && flags.every === undefined) throw new UsageError("give --cron <expression> or --every <duration>");
      const client = ctx.client(command);
      const inputType = (await client.listTypes(call())).find((entry) => entry.name === type)?.inputType;
      const options = {
        type,
        input: encodeInput(flags.input ?? {}, inputType, ctx.registry),
        cron: flags.cron,
        every: flags.every,
        timeZone: flags.tz,
        start: flags.start,
        end: flags.end,
        jitter: flags.jitter,
        queue: flags.queue,
        priority: flags.priority,
        timeout: flags.timeout,
        maxAttempts: flags.maxAttempts,
        labels: flags.label,
        overlap: flags.overlap,
        catchUp: flags.catchUp,
        catchUpLimit: flags.catchUpLimit,
        description: flags.description,
      };
      let schedule: Schedule;
      let verb = "created";
      if (flags.upsert) {
        const upserted = await client.schedules.upsert(id, options, call());
        schedule = upserted.schedule;
        verb = upserted.created ? "created" : "updated";
      } else {
        schedule = await client.schedules.create(id, { ...options, paused: flags.paused }, call());
      }
      const next = formatNext(schedule);
      print(schedule, flags.json, `${verb} schedule ${schedule.id}${schedule.paused ? " (paused)" : ""}${next}\n`);
    });

  schedules
    .command("pause")
    .description("stop a schedule firing until it is resumed (fire times passed meanwhile are not caught up)")
    .argument("<id>", "the schedule's id")
    .option("--json", "print the schedule as proto JSON")
    .action(async (id: string, flags: { json?: boolean }, command: Command) => {
      const schedule = await ctx.client(command).schedules.pause(id, call());
      print(schedule, flags.json, `paused schedule ${schedule.id}: nothing fires until it is resumed\n`);
    });

  schedules
    .command("resume")
    .description("fire a paused schedule again, from its next fire time after now")
    .argument("<id>", "the schedule's id")
    .option("--json", "print the schedule as proto JSON")
    .action(async (id: string, flags: { json?: boolean }, command: Command) => {
      const schedule = await ctx.client(command).schedules.resume(id, call());
      print(schedule, flags.json, `resumed schedule ${schedule.id}${formatNext(schedule)}\n`);
    });

  schedules
    .command("trigger")
    .description("fire a schedule once now (paused or not) and print the task's id")
    .argument("<id>", "the schedule's id")
    .option("--json", "print the task as proto JSON")
    .action(async (id: string, flags: { json?: boolean }, command: Command) => {
      const task = await ctx.client(command).schedules.trigger(id, call());
      ctx.stdout.write(flags.json ? jsonLine(taskToJson(task, ctx.registry)) : `${task.id}\n`);
    });

  schedules
    .command("delete")
    .description("delete a schedule (the tasks it fired stay)")
    .argument("<id>", "the schedule's id")
    .action(async (id: string, _flags: unknown, command: Command) => {
      await ctx.client(command).schedules.delete(id, call());
      ctx.stdout.write(`deleted schedule ${id}\n`);
    });

  schedules
    .command("next")
    .description("preview the fire times of a cron expression (no server needed)")
    .argument("<cron>", 'a cron expression of 5 fields, or 6 with seconds first, like "30 2 * * *"')
    .option("--tz <zone>", "its IANA time zone (default: UTC)", "UTC")
    .option("-n, --count <n>", "how many fire times, 1 to 1000", integerIn(1, 1000), 5)
    .option("--from <time>", "fire times after this ISO 8601 time (default: now)", dateArg)
    .action((cron: string, flags: { tz: string; count: number; from?: Date }) => {
      let times;
      try {
        times = fireTimes({ cron, timeZone: flags.tz, jitterMs: 0 }, "schedule");
      } catch (error) {
        if (error instanceof InvalidArgumentError) throw new UsageError(error.message.replace(/^schedule\.cron: /, "").replace(/^schedule\.time_zone: /, "--tz: "));
        throw error;
      }
      ctx.stdout.write(formatFireTimes(nextFireTimes(times, (flags.from ?? new Date()).getTime(), flags.count), flags.tz));
    });
}

/** ": next fire at <time>", or "" when none is left. */
function formatNext(schedule: Schedule): string {
  const next = schedule.nextFireTimes[0];
  if (!next) return schedule.paused ? "" : ": no fire time is left";
  return `: next fire at ${formatTime(next)}`;
}
