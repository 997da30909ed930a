/**
 * `taskwire types`: the catalog of task types declared by workers; `taskwire types transfer
 * <name> --key <id> | --group <name>` and `taskwire types reset <name>`: an operator changes who
 * owns a type (the key that first declared it, README "Security").
 */
import { toJson } from "@bufbuild/protobuf";
import { InvalidArgumentError, type Command } from "commander";
import { TaskTypeSchema, type TaskType } from "../../../gen/taskwire/v1/task_pb.js";
import { KEY_GROUP, KEY_ID } from "../../server/auth/api-keys.js";
import type { CliContext } from "../context.js";
import { formatTypeTable, jsonLine, typesToJson } from "../format.js";

function keyIdArg(text: string): string {
  if (!KEY_ID.test(text)) throw new InvalidArgumentError("expected an API key id: 1 to 64 of letters, digits and _ . @ -");
  return text;
}

function groupArg(text: string): string {
  if (!KEY_GROUP.test(text)) throw new InvalidArgumentError("expected a key group: 1 to 64 of letters, digits and _ . @ -");
  return text;
}

/**
 * Prints the type as JSON with `--json`, else `summary`. `--json` is read with the parent's
 * options too: written after the subcommand, commander gives it to `types`, which declares it.
 */
function printType(ctx: CliContext, command: Command, type: TaskType, summary: string): void {
  if ((command.optsWithGlobals() as { json?: boolean }).json) ctx.stdout.write(jsonLine(toJson(TaskTypeSchema, type)));
  else ctx.stdout.write(`${summary}\n`);
}

/** Adds `types`, `types transfer` and `types reset` to `program`. */
export function registerTypesCommand(program: Command, ctx: CliContext): void {
  const types = program
    .command("types")
    .description("list the task types workers have declared")
    .option("--json", "print the catalog as proto JSON")
    .action(async (flags: { json?: boolean }, command: Command) => {
      const types = await ctx.client(command).listTypes({ signal: ctx.signal });
      if (flags.json) {
        ctx.stdout.write(jsonLine(typesToJson(types)));
        return;
      }
      ctx.stdout.write(formatTypeTable(types));
      if (types.length === 0) ctx.stderr.write("no task types yet: they appear when a worker serving them connects\n");
    });
  types
    .command("transfer")
    .description("hand a task type to another API key or key group: only its keys may declare it from now on (admin)")
    .argument("<name>", "the task type")
    .option("--key <id>", "the API key (one in no key group) that owns it from now on", keyIdArg)
    .option("--group <name>", "the key group that owns it from now on", groupArg)
    .action(async (name: string, flags: { key?: string; group?: string }, command: Command) => {
      if ((flags.key === undefined) === (flags.group === undefined)) command.error("error: give exactly one of --key <id> and --group <name>");
      const to = flags.key !== undefined ? { key: flags.key } : { group: flags.group ?? "" };
      const type = await ctx.client(command).admin.transferTaskType(name, to, { signal: ctx.signal });
      printType(ctx, command, type, `task type ${type.name} now belongs to ${type.owner}: workers of other keys that declare it are refused`);
    });
  types
    .command("reset")
    .description("forget a task type's owner and let its next declaration change its input and output types (admin)")
    .argument("<name>", "the task type")
    .action(async (name: string, _flags: unknown, command: Command) => {
      const type = await ctx.client(command).admin.resetTaskType(name, { signal: ctx.signal });
      printType(ctx, command, type, `task type ${type.name} was reset: the next key to declare it owns it, with the contract it declares`);
    });
}
