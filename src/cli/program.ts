/**
 * The `taskwire` command tree, built on a {@link CliContext} so it can be parsed in tests.
 */
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { createClient, type TaskwireClient } from "../client/index.js";
import { UsageError, type CliContext, type GlobalOptions } from "./context.js";
import { registerDevCommand } from "./commands/dev.js";
import { registerFollowCommand } from "./commands/follow.js";
import { registerLogsCommand } from "./commands/logs.js";
import { registerHealthCommand } from "./commands/health.js";
import { registerKeysCommands } from "./commands/keys.js";
import { registerMigrateCommand } from "./commands/migrate.js";
import { registerQueueCommands } from "./commands/queues.js";
import { registerLimitCommands } from "./commands/limits.js";
import { registerScheduleCommands } from "./commands/schedules.js";
import { registerServersCommand } from "./commands/servers.js";
import { registerServerCommand } from "./commands/server.js";
import { registerSubmitCommand } from "./commands/submit.js";
import { registerTaskCommands } from "./commands/task.js";
import { registerTaskBulkCommands } from "./commands/tasks-bulk.js";
import { registerTasksCommands } from "./commands/tasks.js";
import { registerTypesCommand } from "./commands/types.js";
import { registerWorkerCommands } from "./commands/worker.js";
import { registerWorkersCommands } from "./commands/workers.js";
import { collectHeader, serverUrlArg } from "./options.js";
import { readTlsCa } from "./tls-ca.js";
import { SDK_VERSION } from "../worker/version.js";

/** The server's URL when neither `--url` nor `TASKWIRE_URL` gives one. */
export const DEFAULT_URL = "http://127.0.0.1:50051";

const EXIT_STATUS_HELP = `
Exit status:
  0    done (the task succeeded, for commands that wait)
  1    an RPC failed, or something unexpected happened
  2    bad flags, arguments or configuration
  3    the task failed
  4    the task was cancelled
  5    the task has not finished
  130  interrupted`;

/** Builds the program; commands write to `ctx` and set `ctx.exitCode`. */
export function createProgram(ctx: CliContext): Command {
  const program = new Command("taskwire")
    .description("Typed long-running tasks over gRPC: server, workers, submissions")
    .version(SDK_VERSION)
    .addOption(new Option("--url <url>", "the server's URL").env("TASKWIRE_URL").default(DEFAULT_URL).argParser(serverUrlArg))
    .addOption(
      new Option("--protocol <protocol>", "gRPC over HTTP/2, or Connect over HTTP/1.1 (client commands)")
        .choices(["grpc", "connect"])
        .default("grpc"),
    )
    .option("-H, --header <header>", 'a header sent with every call, "name: value" (repeatable), like "authorization: Bearer <token>"', collectHeader)
    .addOption(new Option("--api-key <token>", 'an API key, sent as "authorization: Bearer <token>" (an -H authorization wins)').env("TASKWIRE_API_KEY"))
    .addOption(
      new Option("--api-key-file <file>", "read the API key from this file, like a mounted Docker or Kubernetes secret (--api-key wins)").env("TASKWIRE_API_KEY_FILE"),
    )
    .addOption(new Option("--tls-ca <file>", "PEM certificate(s) to trust for https:// URLs (a self-signed server's certificate)").env("TASKWIRE_TLS_CA"))
    .showHelpAfterError("(add --help for usage)")
    .addHelpText("after", EXIT_STATUS_HELP)
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
    })
    // Subcommands created after this point inherit the output, exit and help settings above.
    .exitOverride();

  registerServerCommand(program, ctx);
  registerDevCommand(program, ctx);
  registerMigrateCommand(program, ctx);
  registerWorkerCommands(program, ctx);
  registerSubmitCommand(program, ctx);
  registerTaskCommands(program, ctx);
  registerFollowCommand(program, ctx);
  registerLogsCommand(program, ctx);
  registerTypesCommand(program, ctx);
  registerTaskBulkCommands(registerTasksCommands(program, ctx), ctx);
  registerWorkersCommands(program, ctx);
  registerServersCommand(program, ctx);
  registerQueueCommands(program, ctx);
  registerLimitCommands(program, ctx);
  registerScheduleCommands(program, ctx);
  registerKeysCommands(program, ctx);
  registerHealthCommand(program, ctx);
  return program;
}

/** The key in `--api-key-file` (surrounding white space and a final newline dropped); undefined without the flag. */
function apiKeyFromFile(file: string | undefined): string | undefined {
  if (file === undefined || file === "") return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`--api-key-file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const key = text.trim();
  if (key === "") throw new UsageError(`--api-key-file: ${file} is empty`);
  return key;
}

/** Reads the global options from `command` and its parents. */
export function globalOptions(command: Command): GlobalOptions {
  const options = command.optsWithGlobals<Partial<GlobalOptions> & { apiKey?: string; apiKeyFile?: string }>();
  const header = { ...options.header };
  const apiKey = options.apiKey !== undefined && options.apiKey !== "" ? options.apiKey : apiKeyFromFile(options.apiKeyFile);
  if (apiKey !== undefined && header.authorization === undefined) {
    header.authorization = `Bearer ${apiKey}`;
  }
  return {
    url: options.url ?? DEFAULT_URL,
    protocol: options.protocol ?? "grpc",
    header,
    tlsCa: options.tlsCa,
  };
}

/**
 * A client factory that creates one client per run, for the global options of the first caller.
 * @param cwd resolves a relative `--tls-ca`.
 */
export function clientFactory(cwd: string): { client(command: Command): TaskwireClient; close(): void } {
  let client: TaskwireClient | undefined;
  return {
    client(command) {
      if (!client) {
        const globals = globalOptions(command);
        const { url, protocol, header } = globals;
        const headers = Object.keys(header).length > 0 ? header : undefined;
        client = createClient({ url, protocol, headers, ca: readTlsCa(globals, cwd) });
      }
      return client;
    },
    close() {
      client?.close();
    },
  };
}
