/**
 * deploy/ read as Docker, Compose and Kubernetes would read it, without any of them: every
 * compose file and manifest parses; the Kubernetes objects validate against the Kubernetes
 * OpenAPI schema (kubernetes-models) and KEDA's CRD schema (@kubernetes-models/keda); every
 * TASKWIRE_* variable is one Taskwire reads; probes, grace periods, selectors, secrets and
 * replicas fit together. test/deploy/image.test.ts runs what these files describe.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { parseDuration } from "../../src/core/durations.js";
import { isLoopbackHost } from "../../src/server/auth/auth-mode.js";
import { ROOT } from "../support/server.js";
import {
  COMPOSE_FILES,
  deployments,
  dockerEnv,
  dockerIgnore,
  interpolate,
  KNOWN_VARIABLES,
  loadCompose,
  loadDockerfile,
  loadKubernetes,
  type KubernetesObject,
} from "./support/deploy-files.js";

/** What the prod file needs from its environment. */
const PROD_ENV = { POSTGRES_PASSWORD: "secret", TASKWIRE_WORKER_HIGH_REPLICAS: "3", TASKWIRE_WORKER_DEFAULT_REPLICAS: "5" };

/** The CLI commands a container may run (the image's entrypoint is `taskwire`). */
const COMMANDS = [["server"], ["worker", "start"]];

describe("compose interpolation", () => {
  it("follows Compose's rules", () => {
    expect(interpolate("${A:-x} ${B-y} ${C} $$HOME", { A: "", B: "", C: "c" })).toBe("x  c $HOME");
    expect(() => interpolate("${P:?set P}", {})).toThrow("P: set P");
  });
});

describe.each(COMPOSE_FILES)("%s", (file) => {
  const compose = loadCompose(file, PROD_ENV);
  const taskwire = Object.entries(compose.services).filter(([, service]) => service.image?.startsWith("${") !== true && (service.image ?? "").includes("taskwire"));

  it("runs the taskwire commands with variables Taskwire reads", () => {
    expect(taskwire.length).toBeGreaterThanOrEqual(2);
    for (const [name, service] of taskwire) {
      expect(COMMANDS, name).toContainEqual(service.command);
      for (const variable of Object.keys(service.environment ?? {})) {
        if (variable.startsWith("TASKWIRE_")) expect(KNOWN_VARIABLES, `${name}: ${variable}`).toContain(variable);
      }
    }
  });

  it("serves off loopback with API keys, or says TASKWIRE_AUTH=off (else the server refuses to start)", () => {
    const imageEnv = dockerEnv(loadDockerfile().filter((i) => i.keyword === "ENV").pop()!.args);
    for (const [name, service] of taskwire.filter(([, s]) => s.command?.[0] === "server")) {
      const env = { ...imageEnv, ...service.environment };
      const keys = env.TASKWIRE_API_KEYS_FILE !== undefined || env.TASKWIRE_API_KEYS !== undefined;
      if (!isLoopbackHost(env.TASKWIRE_HOST ?? "127.0.0.1") && !keys) expect(env.TASKWIRE_AUTH, name).toBe("off");
    }
  });

  it("waits for healthy dependencies that have health checks", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(condition, `${name} -> ${dependency}`).toBe("service_healthy");
        expect(compose.services[dependency]?.healthcheck, `${dependency} has a health check`).toBeDefined();
      }
    }
    expect(compose.services.server?.depends_on).toMatchObject({ redis: { condition: "service_healthy" }, postgres: { condition: "service_healthy" } });
  });

  it("checks each worker's stream through taskwire health", () => {
    for (const [name, service] of taskwire.filter(([, s]) => s.command?.[0] === "worker")) {
      const port = service.environment?.TASKWIRE_METRICS_PORT;
      expect(port, name).toBeDefined();
      expect(service.healthcheck?.test, name).toEqual(["CMD", "taskwire", "health", "--worker", `http://127.0.0.1:${port}`]);
      expect(service.environment?.TASKWIRE_METRICS_HOST, name).toBe("0.0.0.0");
    }
  });
});

describe("compose.dev.yaml", () => {
  const compose = loadCompose("compose.dev.yaml");

  it("builds the image from deploy/docker and serves the examples", () => {
    expect(compose.services.server?.build).toEqual({ context: "../..", dockerfile: "deploy/docker/Dockerfile" });
    expect(existsSync(join(ROOT, "deploy/compose", compose.services.server!.build!.context, compose.services.server!.build!.dockerfile))).toBe(true);
    expect(compose.services.worker?.environment?.TASKWIRE_TASKS).toBe("/app/node_modules/taskwire/dist/examples/tasks.js");
    expect(compose.services.server?.ports).toEqual(["50051:50051"]);
  });
});

describe("compose.prod.yaml", () => {
  it("needs the PostgreSQL password", () => {
    expect(() => loadCompose("compose.prod.yaml", {})).toThrow(/POSTGRES_PASSWORD/);
  });

  it("takes the replicas of each worker group from the environment, defaulting to 1 and 2", () => {
    const scaled = loadCompose("compose.prod.yaml", PROD_ENV);
    expect(scaled.services["worker-high"]?.deploy?.replicas).toBe(3);
    expect(scaled.services["worker-default"]?.deploy?.replicas).toBe(5);
    const defaults = loadCompose("compose.prod.yaml", { POSTGRES_PASSWORD: "secret" });
    expect(defaults.services["worker-high"]?.deploy?.replicas).toBe(1);
    expect(defaults.services["worker-default"]?.deploy?.replicas).toBe(2);
    expect(defaults.services["worker-high"]?.environment?.TASKWIRE_QUEUES).toBe("high_priority");
    expect(defaults.services["worker-default"]?.environment?.TASKWIRE_QUEUES).toBe("default,low_priority");
  });

  it("keeps API keys in Docker secrets, limits resources, restarts, persists data", () => {
    const compose = loadCompose("compose.prod.yaml", PROD_ENV);
    const server = compose.services.server!;
    expect(server.secrets).toEqual(["taskwire_api_keys"]);
    expect(server.environment?.TASKWIRE_API_KEYS_FILE).toBe("/run/secrets/taskwire_api_keys");
    for (const name of ["worker-high", "worker-default"]) {
      const worker = compose.services[name]!;
      expect(worker.secrets, name).toEqual(["taskwire_worker_key"]);
      expect(worker.environment?.TASKWIRE_API_KEY_FILE, name).toBe("/run/secrets/taskwire_worker_key");
      // Docker stops a worker only after its tasks had their grace period.
      expect(parseDuration(worker.stop_grace_period!)!, name).toBeGreaterThan(parseDuration(worker.environment!.TASKWIRE_SHUTDOWN_GRACE!)!);
    }
    expect(parseDuration(server.stop_grace_period!)!).toBeGreaterThan(parseDuration(server.environment!.TASKWIRE_SHUTDOWN_GRACE!)!);
    expect(Object.keys(compose.secrets ?? {}).sort()).toEqual(["taskwire_api_keys", "taskwire_worker_key"]);
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.deploy?.resources?.limits, name).toBeDefined();
      expect(service.restart, name).toBe("unless-stopped");
    }
    expect(compose.services.redis?.volumes).toEqual(["redis-data:/data"]);
    expect(compose.services.postgres?.volumes).toEqual(["postgres-data:/var/lib/postgresql/data"]);
    expect(Object.keys(compose.volumes ?? {}).sort()).toEqual(["postgres-data", "redis-data"]);
  });
});

/** The schema-checked class of each kind the manifests use. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject,
};

describe("deploy/kubernetes", () => {
  const { kustomization, objects } = loadKubernetes();
  const named = (kind: string, name: string): KubernetesObject | undefined => objects.find((o) => o.kind === kind && o.metadata.name === name);

  it("validates every object against the Kubernetes (and KEDA) schema", () => {
    expect(objects.length).toBeGreaterThanOrEqual(10);
    for (const object of objects) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => new Model!(object as never).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
    }
  });

  it("the schema check catches a wrong manifest", () => {
    const server = structuredClone(named("Deployment", "taskwire-server")!) as unknown as { spec: { template: { spec: { containers: { ports: unknown }[] } } } };
    server.spec.template.spec.containers[0]!.ports = [{ containerPort: "50051" }];
    expect(() => new Deployment(server as never).validate()).toThrow(/containerPort must be integer/);
  });

  it("has a server Deployment and Service, and a worker Deployment per queue group", () => {
    expect(kustomization.namespace).toBe("taskwire");
    const names = deployments(objects).map((d) => d.name);
    expect(names.sort()).toEqual(["taskwire-server", "taskwire-worker-default", "taskwire-worker-high"]);
    const service = named("Service", "taskwire-server")!.spec as { selector: Record<string, string>; ports: { port: number }[] };
    const server = named("Deployment", "taskwire-server")!.spec as { template: { metadata: { labels: Record<string, string> } } };
    expect(server.template.metadata.labels).toMatchObject(service.selector);
    expect(service.ports[0]?.port).toBe(50051);
  });

  it("uses Taskwire's variables, secrets that exist, and the probes the README recommends", () => {
    const secret = named("Secret", "taskwire")!;
    for (const { name, spec } of deployments(objects)) {
      const [container] = spec.containers;
      expect(COMMANDS, name).toContainEqual(container!.args);
      if (container!.args[0] === "server") {
        const host = container!.env.find((variable) => variable.name === "TASKWIRE_HOST")?.value;
        if (!isLoopbackHost(host ?? "0.0.0.0")) expect(container!.env.map((variable) => variable.name), name).toContain("TASKWIRE_API_KEYS_FILE");
      }
      for (const variable of container!.env) {
        if (variable.name.startsWith("TASKWIRE_")) expect(KNOWN_VARIABLES, `${name}: ${variable.name}`).toContain(variable.name);
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref) expect(Object.keys(secret.stringData ?? {}), `${name}: ${ref.key}`).toContain(ref.key);
      }
      const env = Object.fromEntries(container!.env.map((variable) => [variable.name, variable.value]));
      // Kubernetes sends SIGKILL after the grace period: the drain must fit inside it.
      expect(spec.terminationGracePeriodSeconds * 1000, name).toBeGreaterThan(parseDuration(env.TASKWIRE_SHUTDOWN_GRACE ?? "10s")!);
      if (container!.args[0] === "server") {
        expect(container!.readinessProbe).toMatchObject({ grpc: { port: Number(env.TASKWIRE_PORT) } });
        expect(container!.livenessProbe).toMatchObject({ tcpSocket: { port: Number(env.TASKWIRE_PORT) } });
      } else {
        expect(env.TASKWIRE_URL, name).toBe("http://taskwire-server:50051");
        const metrics = container!.ports.find((port) => port.name === "metrics");
        expect(metrics?.containerPort, name).toBe(Number(env.TASKWIRE_METRICS_PORT));
        expect(container!.readinessProbe, name).toMatchObject({ httpGet: { path: "/health", port: "metrics" } });
        expect(container!.livenessProbe, name).toMatchObject({ httpGet: { path: "/metrics", port: "metrics" } });
      }
    }
  });

  it("has a disruption budget per Deployment, and KEDA scaling each worker group on its queues", () => {
    for (const { name } of deployments(objects)) {
      const budget = named("PodDisruptionBudget", name);
      expect(budget, name).toBeDefined();
      const labels = (named("Deployment", name)!.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
      expect(labels, name).toMatchObject((budget!.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels);
    }
    for (const group of ["high", "default"]) {
      const scaled = named("ScaledObject", `taskwire-worker-${group}`)!.spec as {
        scaleTargetRef: { name: string };
        triggers: { type: string; metadata: { query: string; threshold: string } }[];
      };
      expect(scaled.scaleTargetRef.name).toBe(`taskwire-worker-${group}`);
      const worker = deployments(objects).find((d) => d.name === `taskwire-worker-${group}`)!.spec.containers[0]!;
      const env = Object.fromEntries(worker.env.map((variable) => [variable.name, variable.value]));
      const [trigger] = scaled.triggers;
      expect(trigger?.type).toBe("prometheus");
      // One replica's slots, and the queues that replica serves.
      expect(trigger?.metadata.threshold).toBe(env.TASKWIRE_CONCURRENCY);
      for (const queue of env.TASKWIRE_QUEUES!.split(",")) expect(trigger?.metadata.query).toContain(queue);
    }
  });

  const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;
  it.runIf(kubectl)("renders with kubectl kustomize into the same objects, in the taskwire namespace", () => {
    const rendered = spawnSync("kubectl", ["kustomize", join(ROOT, "deploy/kubernetes")], { encoding: "utf8" });
    expect(rendered.status, rendered.stderr).toBe(0);
    const documents = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as KubernetesObject & { metadata: { namespace?: string } });
    expect(documents.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort());
    for (const document of documents.filter((d) => d.kind !== "Namespace")) expect(document.metadata.namespace).toBe("taskwire");
  });
});

describe("deploy/docker/Dockerfile", () => {
  const instructions = loadDockerfile();

  it("builds in one stage and runs from a small Node base as an unprivileged user", () => {
    const stages = instructions.filter((i) => i.keyword === "FROM").map((i) => i.args);
    expect(stages).toEqual(["node:${NODE_VERSION}-bookworm-slim AS build", "node:${NODE_VERSION}-bookworm-slim AS runtime"]);
    const runtime = instructions.slice(instructions.findIndex((i) => i.args.endsWith("AS runtime")));
    expect(runtime.filter((i) => i.keyword === "USER").map((i) => i.args)).toEqual(["node"]);
    expect(runtime.find((i) => i.keyword === "ENTRYPOINT")?.args).toBe('["taskwire"]');
    expect(runtime.find((i) => i.keyword === "HEALTHCHECK")?.args).toMatch(/CMD \["taskwire", "health"/);
    const env = dockerEnv(runtime.find((i) => i.keyword === "ENV")!.args);
    for (const variable of Object.keys(env).filter((name) => name.startsWith("TASKWIRE_"))) expect(KNOWN_VARIABLES).toContain(variable);
    expect(runtime.some((i) => i.keyword === "RUN" && i.args.includes("npm install --omit=dev") && i.args.includes("taskwire-*.tgz"))).toBe(true);
  });

  it("leaves tests, benchmarks, CI and local builds out of the build context", () => {
    expect(dockerIgnore()).toEqual(expect.arrayContaining([".git", "node_modules", "dist", "test", "bench", ".ci", "deploy"]));
    // One plain path a line: the image test copies the context by these names.
    for (const entry of dockerIgnore()) expect(entry).toMatch(/^[\w.][\w./-]*$/);
  });
});
