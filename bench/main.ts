/**
 * `npm run bench [-- --quick] [--only submit,process,latency,depth,backends,peers,fairness] [--rounds N]`
 * `npm run bench -- --render` rebuilds bench/results/latest.md from latest.json.
 * `npm run bench -- --profile <dir>` also writes CPU profiles of the server and worker processes to <dir>.
 *
 * Taskwire (Redis + PostgreSQL, the production configuration; server and worker in their own
 * processes) against BullMQ (same Redis, its own prefix, its worker in its own process) on the
 * scenarios of issue 6, plus Taskwire's embedded back end against Redis + PostgreSQL (issue 4).
 * Both systems run in the same round, one after the other, in alternating order. Prints the
 * Markdown report and writes it, with every sample, to bench/results/latest.{md,json}.
 * A script, not a test: nothing here asserts a time.
 *
 * Environment: TASKWIRE_BENCH_REDIS_URL (default redis://127.0.0.1:6379) and
 * TASKWIRE_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres). Every run
 * works in new schemas and key prefixes and removes them afterwards.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { Redis } from "ioredis";
import { ROOT } from "./processes.js";
import { describeMachine, renderJson, renderMarkdown, Results, type RunInfo, type Section } from "./report.js";
import { settingsFor, SystemPool, type Scenario, type ScenarioContext } from "./runner.js";
import { backendsScenario } from "./scenarios/backends.js";
import { depthScenario } from "./scenarios/depth.js";
import { fairnessScenario } from "./scenarios/fairness.js";
import { latencyScenario } from "./scenarios/latency.js";
import { peersScenario } from "./scenarios/peers.js";
import { processScenario } from "./scenarios/process.js";
import { submitScenario } from "./scenarios/submit.js";
import { redisInfo } from "./systems/redis-tools.js";

const SCENARIOS: Scenario[] = [submitScenario, processScenario, latencyScenario, depthScenario, backendsScenario, peersScenario, fairnessScenario];

const { values: args } = parseArgs({
  options: { quick: { type: "boolean", default: false }, only: { type: "string" }, rounds: { type: "string" }, render: { type: "boolean", default: false }, profile: { type: "string" } },
});
const RESULTS_DIR = join(ROOT, "bench/results");

// `--render`: rebuild latest.md from latest.json (after a change of the report's layout).
if (args.render) {
  const saved = JSON.parse(await readFile(join(RESULTS_DIR, "latest.json"), "utf8")) as RunInfo & { sections: Section[] };
  const markdown = renderMarkdown(saved, Results.fromSections(saved.sections));
  await writeFile(join(RESULTS_DIR, "latest.md"), markdown);
  console.log(markdown);
  process.exit(0);
}
// Read by bench/processes.ts when it starts the server and worker processes.
if (args.profile !== undefined) process.env.TASKWIRE_BENCH_PROFILE_DIR = join(process.cwd(), args.profile);
const only = args.only?.split(",").map((s) => s.trim());
const unknown = only?.filter((id) => !SCENARIOS.some((s) => s.id === id)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(", ")}; known: ${SCENARIOS.map((s) => s.id).join(", ")}`);
  process.exit(2);
}
const rounds = args.rounds === undefined ? undefined : Number(args.rounds);
if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1)) {
  console.error(`--rounds must be a positive integer, got "${args.rounds}"`);
  process.exit(2);
}

const stores = {
  redisUrl: process.env.TASKWIRE_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379",
  databaseUrl: process.env.TASKWIRE_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
};
const settings = settingsFor(args.quick ? "quick" : "full", stores, rounds);

async function serverVersions(): Promise<{ redis: string; redisPersistence: string; postgres: string }> {
  const redis = new Redis(stores.redisUrl);
  const sql = postgres(stores.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ server_version: string }[]>`show server_version`;
    let redisPersistence = "persistence settings not readable";
    try {
      const [, appendonly] = (await redis.config("GET", "appendonly")) as string[];
      const [, save] = (await redis.config("GET", "save")) as string[];
      redisPersistence = `appendonly ${appendonly ?? "?"}, save "${save ?? "?"}"`;
    } catch {
      // CONFIG is often disabled on managed Redis
    }
    return {
      redis: (await redisInfo(redis, "server", "redis_version")) ?? "unknown",
      redisPersistence,
      postgres: row?.server_version.split(" ")[0] ?? "unknown",
    };
  } finally {
    await Promise.all([redis.quit(), sql.end()]);
  }
}

// The first SIGINT/SIGTERM stops between steps and cleans up; a second one exits at once.
const abort = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (abort.signal.aborted) process.exit(130);
    console.error(`\n${signal}: stopping after the current step and cleaning up (again to exit at once)`);
    abort.abort(new Error(`interrupted by ${signal}`));
  });
}

const versions = await serverVersions();
const machine = describeMachine(versions.redis, versions.redisPersistence, versions.postgres);
const results = new Results();
const started = performance.now();
const ctx: ScenarioContext = {
  settings,
  results,
  systems: new SystemPool(settings),
  signal: abort.signal,
  log: (line) => console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`),
};
ctx.log(`${settings.mode} mode on ${machine.cpu} (${machine.cores} cores), Redis ${machine.redis}, PostgreSQL ${machine.postgres}, BullMQ ${machine.bullmq}`);
try {
  for (const scenario of SCENARIOS.filter((s) => only === undefined || only.includes(s.id))) await scenario.run(ctx);
} catch (error) {
  if (!abort.signal.aborted) throw error;
  // Interrupted: what failed is the step the signal cut short; the scenarios cleaned up.
} finally {
  await ctx.systems.close();
}
if (abort.signal.aborted) {
  ctx.log("interrupted: schemas, prefixes and processes cleaned up, no results written");
  process.exit(130);
}

const flags = [settings.mode === "quick" ? "--quick" : "", only ? `--only ${only.join(",")}` : "", rounds ? `--rounds ${rounds}` : ""].filter((f) => f !== "");
const command = `npm run bench${flags.length > 0 ? ` -- ${flags.join(" ")}` : ""}`;
const info = { date: new Date().toISOString(), mode: settings.mode, machine, durationSeconds: (performance.now() - started) / 1000, command };
const markdown = renderMarkdown(info, results);
console.log(markdown);
await mkdir(RESULTS_DIR, { recursive: true });
await writeFile(join(RESULTS_DIR, "latest.md"), markdown);
await writeFile(join(RESULTS_DIR, "latest.json"), renderJson(info, settings, results));
ctx.log(`wrote bench/results/latest.md and latest.json in ${Math.round(info.durationSeconds)} s`);
