/**
 * The README's failure example (`<!-- failures:begin -->`), as written: it type-checks under the
 * project's compiler options, and run with `runTask` against a refusing payment provider it
 * throws the `DetailedError` the README describes, whose report carries the cause's stack and
 * the details; its definition declares its retention in Hello.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { TaskDefinition } from "../../src/common/task-definition.js";
import { reportOfError } from "../../src/worker/error-report.js";
import { taskDeclaration } from "../../src/worker/hello.js";
import { DetailedError, runTask } from "../../src/worker/index.js";
import { readmeBlocks } from "../support/readme.js";
import { ROOT } from "../support/server.js";

const [snippet] = readmeBlocks("failures", "ts");
/** A directory directly under the checkout, so the snippet's `../src/...` imports resolve. */
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(ROOT, ".readme-failures-"));
  await writeFile(join(dir, "snippet.ts"), snippet ?? "");
  await writeFile(join(dir, "tsconfig.json"), JSON.stringify({ extends: "../tsconfig.json", include: ["snippet.ts"] }));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("the README's failure example", () => {
  it("type-checks", () => {
    expect(snippet).toContain("new DetailedError(");
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", join(dir, "tsconfig.json")], {
      encoding: "utf8",
    });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
  }, 60_000);

  it("fails with the stack of its cause and its details, and declares its retention", async () => {
    const { chargeCard } = (await import(pathToFileURL(join(dir, "snippet.ts")).href)) as { chargeCard: TaskDefinition };
    vi.stubGlobal("fetch", async () => new Response("card declined", { status: 402 }));
    const error: unknown = await runTask(chargeCard, { order: "A-17" }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(DetailedError);
    const report = reportOfError(error);
    expect(report).toMatchObject({ name: "DetailedError", message: "the payment provider refused the charge", details: { status: 402, order: "A-17" } });
    expect(report.stack).toMatch(/\nCaused by: Error: card declined\n {4}at /);
    expect((error as DetailedError).retryable).toBe(false);
    expect(durationMs(taskDeclaration(chargeCard).defaults!.retention!)).toBe(90 * 86_400_000);
  });
});
