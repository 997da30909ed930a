/**
 * README snippets as tests run them: the fenced blocks between `<!-- name:begin -->` and
 * `<!-- name:end -->`, and a shell that runs `sh` blocks as written, against a test server's
 * address instead of `127.0.0.1:50051`, with this checkout's `buf` on the PATH.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { ROOT } from "./server.js";

/** The address the README's commands use. */
export const README_ADDRESS = "127.0.0.1:50051";

/** The fenced blocks of `language` between the README markers `name`. */
export function readmeBlocks(name: string, language: "sh" | "yaml" | "ts"): string[] {
  const readme = readFileSync(`${ROOT}README.md`, "utf8");
  const region = new RegExp(`<!-- ${name}:begin -->([\\s\\S]*?)<!-- ${name}:end -->`).exec(readme)?.[1] ?? "";
  return [...region.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]?.trim() ?? "");
}

/** What a shell run printed. */
export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` in bash (`set -euo pipefail`), with `README_ADDRESS` replaced by `address`
 * (host:port) and `node_modules/.bin` first on the PATH.
 */
export function runReadmeShell(script: string, address: string, timeoutMs = 60_000): Promise<ShellResult> {
  const text = script.replaceAll(README_ADDRESS, address);
  return new Promise((resolve) => {
    const child = spawn("bash", ["-c", `set -euo pipefail\n${text}`], {
      cwd: ROOT,
      env: { ...process.env, PATH: `${ROOT}node_modules/.bin:${process.env.PATH ?? ""}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
