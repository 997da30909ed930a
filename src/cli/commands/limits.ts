/**
 * `taskwire limits list|set|clear`: the dispatch limits of task types and queues (README "Limits
 * and fairness"). `set` changes only the flags given; `clear` drops what an operator set (a type's
 * declared limits apply again).
 */
import { toJson } from "@bufbuild/protobuf";
import { InvalidArgumentError, type Command } from "commander";
import { LimitSchema, type Limit } from "../../../gen/taskwire/v1/admin_service_pb.js";
import type { DispatchLimits } from "../../../gen/taskwire/v1/task_pb.js";
import type { LimitInput, LimitTarget } from "../../client/admin-client.js";
import { LIMIT_COUNT_MAX, parseRate } from "../../core/dispatch-limits.js";
import { durationHint, parseDuration } from "../../core/durations.js";
import { UsageError, type CliContext } from "../context.js";
import { formatDuration, formatTable, jsonLine } from "../format.js";
import { integerIn, queueArg } from "../options.js";

interface TargetFlags {
  type?: string;
  queue?: string;
  json?: boolean;
}

interface SetFlags extends TargetFlags {
  concurrency?: number;
  perKey?: number;
  rate?: string;
  keyRate?: string;
}

/** A rate flag: `<n>/<duration>`, like `10/s`, `100/1m`, `5/250ms`. */
function rateArg(text: string): string {
  const rate = parseRate(text, parseDuration);
  if (rate === undefined) {
    const unit = text.split("/")[1] ?? "";
    throw new InvalidArgumentError(`expected <count>/<duration>, like 10/s or 100/1m${unit === "" ? "" : ` (the duration: ${durationHint(unit)})`}`);
  }
  return text;
}

function targetOf(flags: TargetFlags): LimitTarget {
  if (flags.type !== undefined && flags.queue !== undefined) throw new UsageError("give --type or --queue, not both");
  if (flags.type !== undefined) return { type: flags.type };
  if (flags.queue !== undefined) return { queue: flags.queue };
  throw new UsageError("give --type <type> or --queue <queue>");
}

/** A limits message in one cell: `concurrency 10, per key 2, rate 10/1s, key rate 1/1s`; "-" when none. */
export function formatLimits(limits: DispatchLimits | undefined): string {
  if (limits === undefined) return "-";
  const parts: string[] = [];
  if (limits.concurrency !== undefined) parts.push(`concurrency ${limits.concurrency || "none"}`);
  if (limits.perKey !== undefined) parts.push(`per key ${limits.perKey || "none"}`);
  if (limits.rate !== undefined) parts.push(`rate ${limits.rate.count ? `${limits.rate.count}/${formatDuration(limits.rate.interval)}` : "none"}`);
  if (limits.keyRate !== undefined) parts.push(`key rate ${limits.keyRate.count ? `${limits.keyRate.count}/${formatDuration(limits.keyRate.interval)}` : "none"}`);
  return parts.length === 0 ? "-" : parts.join(", ");
}

function targetName(limit: Limit): string {
  return limit.target.case === undefined ? "" : `${limit.target.case} ${limit.target.value}`;
}

/** The table of `limits list`. */
export function formatLimitTable(limits: readonly Limit[]): string {
  return formatTable(
    ["TARGET", "IN FORCE", "DECLARED", "SET BY AN OPERATOR"],
    limits.map((l) => [targetName(l), formatLimits(l.effective), formatLimits(l.declared), formatLimits(l.override)]),
  );
}

/** Adds `limits` to `program`. */
export function registerLimitCommands(program: Command, ctx: CliContext): void {
  const limits = program.command("limits").description("dispatch limits of task types and queues: concurrency, per key, rates");
  const count = integerIn(0, LIMIT_COUNT_MAX);

  limits
    .command("list")
    .description("the task types and queues with limits: in force, declared by workers, set by an operator")
    .option("--json", "print the limits as proto JSON")
    .action(async (flags: { json?: boolean }, command: Command) => {
      const found = await ctx.client(command).admin.listLimits({ signal: ctx.signal });
      if (flags.json) ctx.stdout.write(jsonLine({ limits: found.map((l) => toJson(LimitSchema, l)) }));
      else if (found.length === 0) ctx.stderr.write("no limits: every task starts as soon as a worker has a free slot\n");
      else ctx.stdout.write(formatLimitTable(found));
    });

  limits
    .command("set")
    .description("set limits of a task type or a queue on every server (the flags given; the others are kept; 0 lifts a limit)")
    .option("-t, --type <type>", "the task type")
    .option("-q, --queue <queue>", "the queue", queueArg)
    .option("--concurrency <n>", "at most n tasks running at once across the fleet (0: no limit)", count)
    .option("--per-key <n>", "at most n running per concurrency key (`submit --key`) (0: no limit)", count)
    .option("--rate <n/duration>", "at most n starts per interval, like 10/s or 100/1m (0/s: no limit)", rateArg)
    .option("--key-rate <n/duration>", "at most n starts per interval for each concurrency key (0/s: no limit)", rateArg)
    .option("--json", "print the limits as proto JSON")
    .action(async (flags: SetFlags, command: Command) => {
      const target = targetOf(flags);
      const input: LimitInput = { concurrency: flags.concurrency, perKey: flags.perKey, rate: flags.rate, keyRate: flags.keyRate };
      if (Object.values(input).every((value) => value === undefined)) throw new UsageError("give at least one of --concurrency, --per-key, --rate, --key-rate");
      const limit = await ctx.client(command).admin.setLimit(target, input, { signal: ctx.signal });
      ctx.stdout.write(flags.json ? jsonLine(toJson(LimitSchema, limit)) : `limits of ${targetName(limit)}: ${formatLimits(limit.effective)}\n`);
    });

  limits
    .command("clear")
    .description("drop the limits an operator set on a task type or a queue (a type's declared limits apply again)")
    .option("-t, --type <type>", "the task type")
    .option("-q, --queue <queue>", "the queue", queueArg)
    .option("--json", "print the limits as proto JSON")
    .action(async (flags: TargetFlags, command: Command) => {
      const limit = await ctx.client(command).admin.clearLimit(targetOf(flags), { signal: ctx.signal });
      ctx.stdout.write(flags.json ? jsonLine(toJson(LimitSchema, limit)) : `cleared the limits set on ${targetName(limit)}; in force: ${formatLimits(limit.effective)}\n`);
    });
}
