/**
 * `taskwire health`: is the server (grpc.health.v1 `Check`, on `--url`) or a worker (its
 * `GET /health` on `--metrics-port`) serving? Exit 0 when it is, 1 when not or unreachable:
 * what a container's HEALTHCHECK and an exec probe run (deploy/docker/Dockerfile).
 */
import { Code, createClient as createRpcClient, ConnectError } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Command } from "commander";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.js";
import { createSessionManager } from "../../common/http2-session.js";
import { ExitCode, UsageError, type CliContext } from "../context.js";
import { durationArg } from "../options.js";
import { readTlsCa } from "../tls-ca.js";

interface HealthFlags {
  worker?: string;
  service: string;
  timeout: number;
}

/** Adds `health` to `program`. */
export function registerHealthCommand(program: Command, ctx: CliContext): void {
  program
    .command("health")
    .description("check that the server (grpc.health.v1) or a worker (--worker) is serving; exit 0 when it is")
    .option("--worker <url>", "check a worker instead: the URL of its --metrics-port, like http://127.0.0.1:9464 (GET /health)")
    .option("--service <name>", 'the service the server reports on ("" is the server as a whole)', "")
    .option("--timeout <duration>", "give up after this long", durationArg, 5_000)
    .action(async (flags: HealthFlags, command: Command) => {
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(flags.timeout)]);
      const status = flags.worker === undefined ? await serverStatus(ctx, command, flags, signal) : await workerStatus(flags.worker, signal);
      ctx.stdout.write(`${status}\n`);
      ctx.exitCode = status === "SERVING" ? ExitCode.ok : ExitCode.error;
    });
}

async function serverStatus(ctx: CliContext, command: Command, flags: HealthFlags, signal: AbortSignal): Promise<string> {
  const globals = ctx.globals(command);
  const sessions = createSessionManager(globals.url, { ca: readTlsCa(globals, ctx.cwd) });
  try {
    const health = createRpcClient(Health, createGrpcTransport({ baseUrl: globals.url, sessionManager: sessions }));
    const response = await health.check({ service: flags.service }, { signal, headers: globals.header });
    return HealthCheckResponse_ServingStatus[response.status] ?? "UNKNOWN";
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    ctx.stderr.write(`${globals.url}: ${error.rawMessage}\n`);
    // grpc-health-probe's name for a service the server does not report on.
    return error.code === Code.NotFound ? "SERVICE_UNKNOWN" : "UNREACHABLE";
  } finally {
    sessions.abort();
  }
}

async function workerStatus(base: string, signal: AbortSignal): Promise<string> {
  let url: URL;
  try {
    url = new URL("/health", base);
  } catch {
    throw new UsageError(`--worker: "${base}" is not a URL (like http://127.0.0.1:9464)`);
  }
  try {
    const response = await fetch(url, { signal });
    const body = (await response.json().catch(() => ({}))) as { status?: unknown };
    return typeof body.status === "string" ? body.status : response.ok ? "SERVING" : "NOT_SERVING";
  } catch {
    return "UNREACHABLE";
  }
}
