/**
 * `taskwire logs <id> [--follow]`: a task's stored log lines (what its workers sent with
 * `ctx.log` or `LogReport`), oldest first; with `--follow`, then its live lines until it ends.
 * The server's own log is its standard error, not this. See the README's "Logs of a task".
 */
import { Option, type Command } from "commander";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { taskStateName, type TaskLogLine } from "../../client/index.js";
import type { CliContext } from "../context.js";
import { integerIn } from "../options.js";

/** The flags of `taskwire logs`. */
interface LogsFlags {
  follow?: boolean;
  attempt?: number;
  level?: "debug" | "info" | "warn" | "error";
  json?: boolean;
}

/** One line as `taskwire logs` prints it: `time  #attempt  LEVEL  message  {fields}`. */
export function formatLogLine(line: TaskLogLine): string {
  const time = line.time ? timestampDate(line.time).toISOString() : "";
  const fields = line.fields && Object.keys(line.fields).length > 0 ? `  ${JSON.stringify(line.fields)}` : "";
  return `${time}  #${line.attempt}  ${line.level.toUpperCase().padEnd(5)}  ${line.message}${fields}\n`;
}

/** A line as one JSON object on one line (`--json`: JSON lines, for `jq` and log collectors). */
function lineToJson(line: TaskLogLine): string {
  return `${JSON.stringify({
    sequence: String(line.sequence),
    attempt: line.attempt,
    level: line.level,
    message: line.message,
    ...(line.fields && { fields: line.fields }),
    time: line.time ? timestampDate(line.time).toISOString() : null,
  })}\n`;
}

/** Adds `logs` to `program`. */
export function registerLogsCommand(program: Command, ctx: CliContext): void {
  program
    .command("logs")
    .description("print a task's stored log lines (what its workers logged), oldest first; --follow: then its live lines until it ends")
    .argument("<id>", "the task's id")
    .option("-f, --follow", "after the stored lines, print new ones as the task's workers send them, until the task ends")
    .option("--attempt <n>", "only the lines of this attempt", integerIn(1, 2 ** 31 - 1))
    .addOption(new Option("--level <level>", "only lines at this level or above").choices(["debug", "info", "warn", "error"]))
    .option("--json", "print each line as a JSON object on one line")
    .action(async (id: string, flags: LogsFlags, command: Command) => {
      const client = ctx.client(command);
      const print = (line: TaskLogLine) => ctx.stdout.write(flags.json ? lineToJson(line) : formatLogLine(line));
      const filter = { attempt: flags.attempt, minLevel: flags.level };
      let dropped = 0n;
      if (flags.follow) {
        let finalState = undefined as ReturnType<typeof taskStateName> | undefined;
        for await (const message of client.streamTaskLogs(id, filter, { signal: ctx.signal })) {
          for (const line of message.lines) print(line);
          dropped = message.droppedCount;
          if (message.finalState) finalState = taskStateName(message.finalState);
        }
        if (!flags.json && finalState !== undefined) ctx.stderr.write(`task ${id} ended ${finalState}\n`);
      } else {
        let pageToken = "";
        do {
          const page = await client.getTaskLogs(id, { ...filter, pageSize: 1000, pageToken }, { signal: ctx.signal });
          for (const line of page.lines) print(line);
          dropped = page.droppedCount;
          pageToken = page.nextPageToken;
        } while (pageToken !== "");
      }
      if (dropped > 0n && !flags.json) {
        ctx.stderr.write(`${dropped} more line${dropped === 1n ? " was" : "s were"} not stored: the task reached the server's --max-task-log-lines or --max-task-log-bytes\n`);
      }
    });
}
