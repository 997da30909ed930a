/**
 * What every command gets: its output streams, the shutdown signal, and a client built from
 * the global options. Commands never touch `process` directly, so they can run in tests.
 */
import type { Registry } from "@bufbuild/protobuf";
import type { Command } from "commander";
import type { TaskwireClient } from "../client/index.js";

/** A stream the CLI writes to; `isTTY` and `columns` drive the progress bar. */
export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** The global options, shared by every command. */
export interface GlobalOptions {
  /** The server's URL. */
  url: string;
  /** Protocol of client commands. */
  protocol: "grpc" | "connect";
  /** Headers sent with every call, from `--header name:value`. */
  header: Record<string, string>;
  /** PEM file of the certificate authorities to trust for `https:` URLs, from `--tls-ca`. */
  tlsCa: string | undefined;
}

/** The environment of one CLI run. */
export interface CliContext {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  /** Environment variables (for `loadServerConfig`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths are resolved against. */
  readonly cwd: string;
  /** Standard input, read by `--input @-`; undefined when the run has none. */
  readonly stdin?: AsyncIterable<string | Uint8Array>;
  /**
   * Aborted on the first SIGINT or SIGTERM: long-running commands shut down gracefully, client
   * calls stop. A second signal exits at once.
   */
  readonly signal: AbortSignal;
  /** Decodes `Any` values for display: well-known types and Taskwire's messages. */
  readonly registry: Registry;
  /** The exit status of the run; commands raise it (task failed, not finished). */
  exitCode: number;
  /** The global options as given to `command` or its parents. */
  globals(command: Command): GlobalOptions;
  /** A client for the global options of `command`, created on first use. */
  client(command: Command): TaskwireClient;
}

/** Exit statuses of the CLI, documented in `taskwire --help`. */
export const ExitCode = {
  ok: 0,
  /** An RPC failed, or something unexpected happened. */
  error: 1,
  /** Bad flags, arguments or configuration. */
  usage: 2,
  /** The task ended FAILED. */
  taskFailed: 3,
  /** The task ended CANCELLED. */
  taskCancelled: 4,
  /** The task had not finished (`result` without `--wait`, or the wait ran out). */
  notFinished: 5,
  /** Stopped by SIGINT/SIGTERM before it was done. */
  interrupted: 130,
} as const;

/** A mistake in how the CLI was called; printed without a stack, exit status 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
