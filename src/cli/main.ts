/**
 * The `taskwire` entry point (`tsx src/cli/main.ts …`, or `bin/taskwire.js`). The only module
 * that installs signal handlers and exits the process.
 */
import { ExitCode } from "./context.js";
import { runCli } from "./run.js";
import { installSignalHandlers } from "./signals.js";

const signals = installSignalHandlers((signal) => {
  process.stderr.write(`\nreceived ${signal} again: exiting now\n`);
  process.exit(ExitCode.interrupted);
});

const status = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  // Lazily: only `--input @-` touches process.stdin.
  stdin: { [Symbol.asyncIterator]: () => process.stdin[Symbol.asyncIterator]() },
  signal: signals.signal,
});
signals.dispose();

// Exit once what was written has been flushed: open sockets (a pino destination, an idle HTTP/2
// session) must not keep a finished command alive.
await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))));
process.exit(status);
