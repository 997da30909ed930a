/**
 * `taskwire types`: the catalog of task types declared by workers.
 */
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { formatTypeTable, jsonLine, typesToJson } from "../format.js";

/** Adds `types` to `program`. */
export function registerTypesCommand(program: Command, ctx: CliContext): void {
  program
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
}
