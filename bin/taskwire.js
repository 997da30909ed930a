#!/usr/bin/env node
// The `taskwire` command: the compiled CLI (dist/cli/taskwire.js, `npm run build`, which `npm ci`
// and `npm install` run through `prepare`) on plain Node. package.json's `#cli` import names it;
// under Node's `taskwire-source` condition (NODE_OPTIONS=--conditions=taskwire-source, which the
// test suite sets so that it always runs the current sources) it names src/cli/main.ts instead,
// run through tsx. A checkout not built yet runs its sources the same way.
import { existsSync } from "node:fs";
import { fileURLToPath, URL } from "node:url";

const main = import.meta.resolve("#cli");
const sources = new URL("../src/cli/main.ts", import.meta.url);
const fromSources = main.endsWith(".ts") || (!existsSync(fileURLToPath(main)) && existsSync(fileURLToPath(sources)));
if (fromSources) {
  const { register } = await import("tsx/esm/api");
  register();
}
await import(fromSources && !main.endsWith(".ts") ? sources.href : main);
