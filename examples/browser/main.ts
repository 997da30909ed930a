/**
 * The page of `index.html`: a form that submits a task and shows its progress live.
 * Bundle it for the browser (any bundler; with esbuild:
 * `npx esbuild examples/browser/main.ts --bundle --format=esm --outfile=examples/browser/main.js`),
 * serve the folder (`python3 -m http.server 8080 -d examples/browser`) and open
 * `http://localhost:8080/?server=http://127.0.0.1:50051&protocol=grpc-web`.
 */
import { ConnectError } from "@connectrpc/connect";
import { createTaskClient, describeEvent, outputJson, submitAndFollow, type BrowserProtocol } from "./follow-task.js";

// The few DOM shapes this page uses (the repository type-checks without the DOM library).
interface Element {
  textContent: string | null;
  value?: string;
  addEventListener(type: string, listener: (event: { preventDefault(): void }) => void): void;
  setAttribute(name: string, value: string): void;
}
declare const document: { getElementById(id: string): Element | null };
declare const location: { search: string; origin: string };

function element(id: string): Element {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found;
}

const params = new URLSearchParams(location.search);
const server = params.get("server") ?? "http://127.0.0.1:50051";
const protocol: BrowserProtocol = params.get("protocol") === "grpc-web" ? "grpc-web" : "connect";
const client = createTaskClient(server, protocol);
const log = element("log");
const status = element("status");

async function run(type: string, input: string): Promise<void> {
  log.textContent = "";
  status.textContent = "submitting…";
  try {
    const last = await submitAndFollow(client, type, JSON.parse(input) as Record<string, never>, (event) => {
      log.textContent += `${describeEvent(event)}\n`;
    });
    status.textContent = last ? describeEvent(last) : "no events";
    const output = last && outputJson(last);
    if (output !== undefined) log.textContent += `output: ${JSON.stringify(output)}\n`;
  } catch (error) {
    status.textContent = `error: ${ConnectError.from(error).message}`;
  }
  status.setAttribute("data-done", "true");
  // `?report=<url>` posts what the page shows when done (how the headless test reads it).
  const report = params.get("report");
  if (report) await fetch(report, { method: "POST", body: JSON.stringify({ status: status.textContent, log: log.textContent }) });
}

element("form").addEventListener("submit", (event) => {
  event.preventDefault();
  void run(element("type").value ?? "", element("input").value ?? "{}");
});

// `?type=...&input=...` submits at once (how the headless test drives the page).
const autoType = params.get("type");
if (autoType) void run(autoType, params.get("input") ?? "{}");
