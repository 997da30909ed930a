/**
 * The `taskwire server` command's own trace export: when the standard OpenTelemetry variables
 * ask for it (`OTEL_TRACES_EXPORTER=otlp`, or an `OTEL_EXPORTER_OTLP_ENDPOINT` /
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` without `OTEL_TRACES_EXPORTER=none`; never with
 * `OTEL_SDK_DISABLED=true`), it registers a Node tracer provider that batches spans to an OTLP
 * collector (http/protobuf; the exporter reads the other `OTEL_EXPORTER_OTLP_*` variables,
 * the provider `OTEL_TRACES_SAMPLER` and `OTEL_BSP_*`). `OTEL_SERVICE_NAME` names the service
 * (default `taskwire-server`).
 *
 * Taskwire itself depends on `@opentelemetry/api` only. The SDK and the exporter are optional
 * peer dependencies, imported here only when asked: a server that exports nothing does not load
 * (or need installed) the SDK's packages, and an application embedding the server brings its
 * own SDK instead. Keep in line with the README's "Traces" section.
 */
import { ConfigError } from "../../config/config.js";
import type { Logger } from "../../core/logger.js";

type Env = Readonly<Record<string, string | undefined>>;

/** The packages loaded on demand; the error message names them. */
export const OTLP_PACKAGES = ["@opentelemetry/sdk-trace-node", "@opentelemetry/exporter-trace-otlp-proto", "@opentelemetry/resources"] as const;

/** Whether `env` asks for OTLP trace export; see the file header. */
export function otlpRequested(env: Env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "");
  if (exporters.length > 0) return exporters.includes("otlp");
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Registers the OTLP exporter when `env` asks for it.
 * @returns the shutdown that flushes the spans still batched; undefined when nothing was asked.
 * @throws ConfigError when it was asked but the SDK's packages are not installed.
 */
export async function startOtlpTracing(env: Env, logger: Logger): Promise<(() => Promise<void>) | undefined> {
  if (!otlpRequested(env)) return undefined;
  let modules;
  try {
    modules = await Promise.all([import("@opentelemetry/sdk-trace-node"), import("@opentelemetry/exporter-trace-otlp-proto"), import("@opentelemetry/resources")]);
  } catch (error) {
    throw new ConfigError(
      `the OTEL_* variables ask for OTLP traces, but the OpenTelemetry SDK is not installed: npm install ${OTLP_PACKAGES.join(" ")} ` +
        `(or unset OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_ENDPOINT) (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { detectResources, envDetector, resourceFromAttributes }] = modules;
  const resource = resourceFromAttributes({ "service.name": "taskwire-server" }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
  provider.register();
  logger.info({ endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://localhost:4318" }, "exporting traces over OTLP");
  return () => provider.shutdown();
}
