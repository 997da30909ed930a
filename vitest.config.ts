import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** package.json's exports under the `taskwire-source` condition: where `taskwire/...` names the sources. */
function sourceAliases(): { find: RegExp; replacement: string }[] {
  const root = fileURLToPath(new URL("./", import.meta.url));
  const manifest = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { exports: Record<string, unknown> };
  const aliases: { find: RegExp; replacement: string }[] = [];
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    const source = (target as { "taskwire-source"?: string })["taskwire-source"];
    if (source === undefined) continue;
    const name = `taskwire${subpath.slice(1)}`.replace(/[.]/g, "\\.");
    aliases.push({ find: new RegExp(`^${name.replace("*", "(.+)")}$`), replacement: root + source.slice(2).replace("*", "$1") });
  }
  return aliases;
}

export default defineConfig({
  resolve: { alias: sourceAliases() },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    env: {
      // Processes the tests start (`node bin/taskwire.js`, `node --import tsx file.ts`) run the
      // current sources, never a dist/ built earlier: package.json names them under this condition.
      NODE_OPTIONS: [process.env.NODE_OPTIONS, "--conditions=taskwire-source"].filter(Boolean).join(" "),
    },
  },
});
