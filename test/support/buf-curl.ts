/**
 * `buf curl` (the pinned `@bufbuild/buf` of this checkout) as a client: it resolves every
 * schema through the server's reflection service, as users run it.
 */
import { execFile } from "node:child_process";
import { ROOT } from "./server.js";

/** The buf binary of this checkout. */
export const BUF = `${ROOT}node_modules/.bin/buf`;

/** What a finished command gave. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `buf curl <args>` to completion. */
export function bufCurl(args: readonly string[], timeoutMs = 30_000): Promise<CommandResult> {
  return runCommand(BUF, ["curl", ...args], timeoutMs);
}

/** Runs a program to completion (never rejects: a failure is in `code` and `stderr`). */
export function runCommand(file: string, args: readonly string[], timeoutMs = 30_000, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
