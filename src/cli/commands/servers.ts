/**
 * `taskwire servers` (also `queue servers`): the servers of the fleet that heart-beat recently.
 */
import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { formatServerTable, serversToJson } from "../fleet-format.js";
import { jsonLine } from "../format.js";

/** Makes `command` list the servers: used by `servers` and by `queue servers`, which print the same thing. */
export function addServerListing(command: Command, ctx: CliContext): Command {
  return command.option("--json", "print the servers as proto JSON").action(async (flags: { json?: boolean }, command: Command) => {
    const servers = await ctx.client(command).admin.listServers({ signal: ctx.signal });
    ctx.stdout.write(flags.json ? jsonLine(serversToJson(servers)) : formatServerTable(servers, Date.now()));
  });
}

/** Adds `servers` to `program`. */
export function registerServersCommand(program: Command, ctx: CliContext): void {
  addServerListing(program.command("servers").description("list the servers of the fleet"), ctx);
}
