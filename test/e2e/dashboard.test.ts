/**
 * The dashboard in Debian's Chromium (playwright-core, `/usr/bin/chromium`, one browser for the
 * file), against real servers with a real worker: a Redis + PostgreSQL server without keys, and an
 * embedded one (PGlite, in-process broker) with API keys. It watches a running task's progress
 * bar move, its log lines arrive and its context change, and cancels it; follows a task's
 * parent and children; retries a failed task, pauses a queue and sees a submitted task stay
 * queued, submits a typed task through the generated form (with a field error from the server
 * first), signs in with a viewer key and finds every action disabled (and with an admin key,
 * enabled), and counts what an open dashboard asks of the server. Each test saves a screenshot
 * (into TASKWIRE_SCREENSHOTS_DIR when set: the README's images are made so).
 *
 * Chromium is required, not optional: `.ci/run` installs it, and without it this file fails.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromJson } from "@bufbuild/protobuf";
import { anyPack, StructSchema } from "@bufbuild/protobuf/wkt";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { AdminService } from "../../gen/taskwire/v1/admin_service_pb.js";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import { TaskService } from "../../gen/taskwire/v1/task_service_pb.js";
import { buildDashboard, type DashboardBuild } from "../support/dashboard.js";
import { testKey } from "../support/keys.js";
import { eventually, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const WORKER_ARGS = ["--tasks", "test/fixtures/dashboard-tasks.ts", "--queues", "default,dash-paused", "--concurrency", "4"];

type Api = { tasks: Client<typeof TaskService>; admin: Client<typeof AdminService> };
function apiOf(url: string, headers: Record<string, string> = {}): Api {
  const transport = createConnectTransport({
    baseUrl: url,
    httpVersion: "1.1",
    interceptors: [(next) => (req) => {
      for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
      return next(req);
    }],
  });
  return { tasks: createClient(TaskService, transport), admin: createClient(AdminService, transport) };
}
const struct = (json: Record<string, number | string>) => anyPack(StructSchema, fromJson(StructSchema, json));

let ui: DashboardBuild;
let profile: string;
let shots: string;
let browser: BrowserContext;
let open: TestServer;
let openWorker: WorkerProcess;
let openApi: Api;
const viewer = testKey("dash-viewer", "viewer");
const admin = testKey("dash-admin", "admin");
const workerKey = testKey("dash-worker", "worker");
const clientKey = testKey("dash-client", "client");
let keyed: TestServer;
let keyedWorker: WorkerProcess;

async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function waitForWorker(api: Api, type: string): Promise<void> {
  await eventually(async () => (await api.tasks.listTypes({})).types.some((t) => t.name === type && t.workerCount > 0), 60_000, `a worker serving ${type}`);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); .ci/run does`);
  shots = process.env.TASKWIRE_SCREENSHOTS_DIR ?? (await mkdtemp(join(tmpdir(), "taskwire-shots-")));
  await mkdir(shots, { recursive: true });
  profile = await mkdtemp(join(tmpdir(), "taskwire-chromium-"));
  ui = await buildDashboard();
  [open, keyed] = await Promise.all([
    startTestServer({ dashboardDir: ui.dir }),
    startTestServer({ dashboardDir: ui.dir, apiKeys: [viewer.env, admin.env, workerKey.env, clientKey.env].join(",") }, undefined, "embedded"),
  ]);
  openWorker = spawnWorker(open.url, WORKER_ARGS);
  keyedWorker = spawnWorker(keyed.url, [...WORKER_ARGS, "--api-key", workerKey.token]);
  openApi = apiOf(open.url);
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 860 } });
  await Promise.all([waitForWorker(openApi, "dashboard.report"), waitForWorker(apiOf(keyed.url, admin.headers), "dashboard.report")]);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  for (const w of [openWorker, keyedWorker]) w?.kill();
  await Promise.all([openWorker?.exited, keyedWorker?.exited]);
  await Promise.all([open?.stop(), keyed?.stop()]);
  await ui?.remove();
  await rm(profile, { recursive: true, force: true });
});

async function newPage(url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url);
  return page;
}

describe("without API keys (Redis + PostgreSQL)", () => {
  it("opens at once on the overview", async () => {
    const page = await newPage(`${open.url}/`);
    await expect.poll(() => page.getByRole("heading", { name: "Overview" }).isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await page.locator(".who").textContent()).toContain("no sign-in");
    // Keyboard: the first Tab reaches the skip link, which moves focus to the screen's heading.
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await page.evaluate("document.activeElement.id")).toBe("screen-title");
    await screenshot(page, "overview");
    await page.close();
  });

  it("shows a running task's progress bar move, its live logs and context, then cancels it", async () => {
    const { task } = await openApi.tasks.submit({ type: "dashboard.chatty", input: struct({ ms: 60_000, steps: 60 }) });
    const id = task!.id;
    const page = await newPage(`${open.url}/#/tasks/${id}`);
    const bar = page.getByRole("progressbar");
    const percent = async () => Number((await bar.getAttribute("aria-valuenow")) ?? "0");
    await expect.poll(percent, { timeout: 30_000 }).toBeGreaterThan(0);
    const first = await percent();
    await expect.poll(percent, { timeout: 30_000 }).toBeGreaterThan(first);
    expect(await bar.getAttribute("aria-valuetext")).toMatch(/step \d+ of 60/);
    // The log grows while the page is open (streamed), and the context follows the steps.
    const logs = page.getByTestId("task-logs");
    await expect.poll(() => logs.locator("li").count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    const seen = await logs.locator("li").count();
    await expect.poll(() => logs.locator("li").count(), { timeout: 30_000 }).toBeGreaterThan(seen);
    expect(await logs.textContent()).toMatch(/starting[\s\S]*finished step 1 of 60/);
    await expect.poll(() => page.getByTestId("task-context").textContent(), { timeout: 30_000 }).toMatch(/"report": \{\s*"step": [1-9]/);
    await screenshot(page, "task-running");
    await page.getByRole("button", { name: "cancel this task" }).click();
    await expect.poll(() => page.locator(".facts .badge").textContent(), { timeout: 30_000 }).toBe("CANCELLED");
    expect((await openApi.tasks.getStatus({ id })).task?.state).toBe(TaskState.CANCELLED);
    expect(await page.getByRole("button", { name: "cancel this task" }).isDisabled()).toBe(true);
    await page.close();
  }, 120_000);

  it("retries a failed task, whose error and stack it shows", async () => {
    const { task } = await openApi.tasks.submit({ type: "dashboard.fail-once", input: struct({}) });
    const id = task!.id;
    await eventually(async () => (await openApi.tasks.getStatus({ id })).task?.state === TaskState.FAILED, 30_000, "the failure");
    const page = await newPage(`${open.url}/#/tasks/${id}`);
    await expect.poll(() => page.locator(".facts .badge").textContent(), { timeout: 20_000 }).toBe("FAILED");
    expect(await page.locator(".errors").textContent()).toContain("the first attempt always fails");
    await page.getByText("Stack").first().click();
    expect(await page.locator("pre.stack").first().textContent()).toMatch(/NonRetryableError|at /);
    await page.getByRole("button", { name: "retry this task" }).click();
    await expect.poll(() => page.locator(".facts .badge").textContent(), { timeout: 30_000 }).toBe("SUCCEEDED");
    expect(await page.getByTestId("task-output").textContent()).toContain("attempt");
    await screenshot(page, "task-retried");
    await page.close();
  });

  it("pauses a queue, and a task submitted to it stays queued until it is resumed", async () => {
    const page = await newPage(`${open.url}/#/queues`);
    await page.getByRole("button", { name: "pause queue dash-paused" }).click();
    await expect.poll(() => page.locator('tr[data-queue="dash-paused"] .badge').textContent(), { timeout: 20_000 }).toBe("PAUSED");
    const { task } = await openApi.tasks.submit({ type: "test.echo", queue: "dash-paused", input: struct({ n: 1 }) });
    const id = task!.id;
    // The queues screen refreshes by itself: the task shows queued there, and is still queued after.
    await expect.poll(() => page.locator('tr[data-queue="dash-paused"] td').nth(2).textContent(), { timeout: 20_000 }).toBe("1");
    await screenshot(page, "queue-paused");
    await page.goto(`${open.url}/#/tasks/${id}`);
    await expect.poll(() => page.locator(".facts .badge").textContent(), { timeout: 20_000 }).toBe("QUEUED");
    expect((await openApi.tasks.getStatus({ id })).task?.state).toBe(TaskState.QUEUED);
    // "Why is it not running": its queue is paused (ExplainTask).
    await expect.poll(() => page.getByTestId("task-why").locator('[data-kind="QUEUE_PAUSED"]').count(), { timeout: 20_000 }).toBe(1);
    await screenshot(page, "task-why");
    // Resumed from another tab; the task page follows the task live to its end.
    const queues = await newPage(`${open.url}/#/queues`);
    await queues.getByRole("button", { name: "resume queue dash-paused" }).click();
    await expect.poll(() => page.locator(".facts .badge").textContent(), { timeout: 30_000 }).toBe("SUCCEEDED");
    await queues.close();
    await page.close();
  });

  it("submits a typed task through the generated form, showing the server's field error at its field", async () => {
    const page = await newPage(`${open.url}/#/types/dashboard.report`);
    const form = page.getByRole("form", { name: "submit dashboard.report" });
    await form.getByLabel("title", { exact: true }).waitFor();
    // Every control of the page has a name: a label, an aria-label or its text.
    const unnamed = await page.evaluate(
      `[...document.querySelectorAll("input, select, textarea, button")].filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.textContent.trim()).map((e) => e.outerHTML)`,
    );
    expect(unnamed).toEqual([]);
    await form.getByLabel("title", { exact: true }).fill("Quarterly");
    await form.getByLabel("format", { exact: true }).selectOption("FORMAT_HTML");
    await form.getByRole("button", { name: "add to sections" }).click();
    await form.getByLabel("heading").fill("Revenue");
    await form.getByLabel("lines").fill("12");
    await form.getByRole("button", { name: "add to tags" }).click();
    await form.getByLabel("tags item 1", { exact: true }).fill("finance");
    await form.getByLabel("max_pages").fill("20");
    await page.getByText("Options").click();
    await form.getByLabel("Queue").fill("not a queue!");
    await form.getByRole("button", { name: "Submit" }).click();
    const queueError = form.locator('[data-field="queue"] .field-error');
    await expect.poll(() => queueError.textContent(), { timeout: 20_000 }).toContain("is not a valid queue name");
    await screenshot(page, "typed-form-error");
    await form.getByLabel("Queue").fill("");
    await form.getByRole("button", { name: "Submit" }).click();
    await page.waitForURL(/#\/tasks\/[0-9a-f-]{36}$/, { timeout: 20_000 });
    await expect.poll(() => page.locator(".facts .badge").textContent(), { timeout: 30_000 }).toBe("SUCCEEDED");
    const output = page.getByTestId("task-output");
    expect(await output.textContent()).toContain("Quarterly: 1 sections, 12 lines");
    expect(await output.textContent()).toContain("FORMAT_HTML");
    const input = await page.getByTestId("task-input").textContent();
    expect(input).toContain("Revenue");
    expect(input).toContain("finance");
    await screenshot(page, "task-typed");
    await page.close();
  });

  it("shows a task's parents and children", async () => {
    const parent = (await openApi.tasks.submit({ type: "test.echo", input: struct({ n: 1 }) })).task!;
    const child = (await openApi.tasks.submit({ type: "test.echo", input: struct({ n: 2 }), dependsOn: [parent.id] })).task!;
    await eventually(async () => (await openApi.tasks.getStatus({ id: child.id })).task?.state === TaskState.SUCCEEDED, 30_000, "the child");
    const page = await newPage(`${open.url}/#/tasks/${child.id}`);
    const parents = page.getByRole("list", { name: "parents" });
    await expect.poll(() => parents.locator(`a[title="${parent.id}"]`).count(), { timeout: 20_000 }).toBe(1);
    await parents.locator(`a[title="${parent.id}"]`).click();
    await expect.poll(() => page.getByRole("list", { name: "children" }).locator(`a[title="${child.id}"]`).count(), { timeout: 20_000 }).toBe(1);
    await screenshot(page, "task-dependencies");
    await page.close();
  });

  it("filters the task list by creation time", async () => {
    const { task } = await openApi.tasks.submit({ type: "test.echo", input: struct({ n: 3 }) });
    const page = await newPage(`${open.url}/#/tasks`);
    await expect.poll(() => page.locator(`tr[data-task-id="${task!.id}"]`).count(), { timeout: 20_000 }).toBe(1);
    await page.getByLabel("Created after").fill("2099-01-01T00:00:00");
    await expect.poll(() => page.getByText("No task matches.").isVisible(), { timeout: 20_000 }).toBe(true);
    expect(page.url()).toMatch(/after=2099-01-0/);
    await page.getByLabel("Created after").fill("");
    await page.getByLabel("Created before").fill("2099-01-01T00:00:00");
    await expect.poll(() => page.locator(`tr[data-task-id="${task!.id}"]`).count(), { timeout: 20_000 }).toBe(1);
    await page.close();
  });

  it("costs the server a few calls a minute while left open", async () => {
    const page = await browser.newPage();
    const calls: number[] = [];
    page.on("request", (request) => {
      if (request.url().includes("/taskwire.v1.")) calls.push(Date.now());
    });
    await page.goto(`${open.url}/`);
    // Five refreshes of the overview after the first load.
    await expect.poll(() => calls.length, { timeout: 60_000 }).toBeGreaterThanOrEqual(7);
    const perMinute = ((calls.length - 2) / ((calls.at(-1) as number) - (calls[1] as number))) * 60_000;
    process.stdout.write(`an open overview: ${perMinute.toFixed(1)} calls a minute\n`);
    expect(perMinute).toBeLessThanOrEqual(15);
    await page.close();
  }, 120_000);
});

describe("with API keys (embedded: PGlite and the in-process broker)", () => {
  it("signs in with a viewer key that sees everything and can act on nothing", async () => {
    const api = apiOf(keyed.url, admin.headers);
    const { task } = await api.tasks.submit({ type: "test.sleep", input: struct({ ms: 60_000, steps: 2 }) });
    const page = await newPage(`${keyed.url}/`);
    await page.getByLabel("API key").fill("not-a-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 20_000 }).toContain("no such key");
    // A client key reads only its own tasks: it cannot open the dashboard.
    await page.getByLabel("API key").fill(clientKey.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), { timeout: 20_000 }).toContain("cannot open the dashboard");
    await page.getByLabel("API key").fill(viewer.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator(".who").textContent(), { timeout: 20_000 }).toContain("dash-viewer (viewer, read only)");
    expect(page.url()).not.toContain(viewer.token);
    await page.goto(`${keyed.url}/#/tasks/${task!.id}`);
    await expect.poll(() => page.locator(".facts .badge").textContent(), { timeout: 20_000 }).toMatch(/QUEUED|RUNNING/);
    for (const name of ["cancel this task", "clone this task", "edit the input and run again"]) {
      expect(await page.getByRole("button", { name }).isDisabled(), name).toBe(true);
    }
    await screenshot(page, "viewer-task");
    await page.goto(`${keyed.url}/#/tasks`);
    await expect.poll(() => page.locator(`tr[data-task-id="${task!.id}"]`).count(), { timeout: 20_000 }).toBe(1);
    for (const button of await page.locator('button[data-permission="fleet.act"]').all()) expect(await button.isDisabled()).toBe(true);
    await page.goto(`${keyed.url}/#/queues`);
    await expect.poll(() => page.getByRole("button", { name: "pause queue default" }).isDisabled(), { timeout: 20_000 }).toBe(true);
    await page.goto(`${keyed.url}/#/types/dashboard.report`);
    await expect.poll(() => page.locator('button[data-permission="tasks.submit"]').isDisabled(), { timeout: 20_000 }).toBe(true);
    await page.goto(`${keyed.url}/#/workers`);
    await expect.poll(() => page.locator("table.list tbody tr").count(), { timeout: 20_000 }).toBeGreaterThan(0);
    expect(await page.getByRole("button", { name: /^drain worker/ }).first().isDisabled()).toBe(true);
    // Signing out forgets the key.
    await page.getByRole("button", { name: "Sign out" }).click();
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    await page.close();
    await api.tasks.cancel({ id: task!.id });
  });

  it("signs in with an admin key that can act", async () => {
    const page = await newPage(`${keyed.url}/#/queues`);
    await page.getByLabel("API key").fill(admin.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator(".who").textContent(), { timeout: 20_000 }).toContain("dash-admin (admin)");
    await expect.poll(() => page.getByRole("button", { name: "pause queue default" }).isEnabled(), { timeout: 20_000 }).toBe(true);
    await screenshot(page, "admin-queues");
    await page.close();
  });
});
