/**
 * `taskwire follow <id>`: attaches to a task submitted earlier (by this CLI or anything else),
 * shows its live progress until it ends, then prints its result, as `submit --follow` does.
 */
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { awaitOutcome, followCallsOf } from "../follow.js";

/** Adds `follow` to `program`. */
export function registerFollowCommand(program: Command, ctx: CliContext): void {
  program
    .command("follow")
    .description("show a task's live progress until it ends, then print its result; exit status 3 when it failed, 4 when cancelled")
    .argument("<id>", "the task's id")
    .option("--json", "print the task as proto JSON instead of its result")
    .action(async (id: string, flags: { json?: boolean }, command: Command) => {
      const client = ctx.client(command);
      await awaitOutcome(ctx, followCallsOf(client, client.handle(id)), { follow: true, json: flags.json });
    });
}
