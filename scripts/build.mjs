#!/usr/bin/env node
/**
 * The package build (`npm run build`; `npm pack` and `npm publish` run it through `prepack`, and
 * `npm ci` or `npm install` in a checkout through `postinstall`):
 *
 * 1. the dashboard (`npm run build:ui`, when package.json has that script) into `ui/dist/`;
 * 2. `tsc -p tsconfig.build.json`: JavaScript and declarations of src/, gen/ and the example
 *    tasks in `dist/`, in the checkout's layout (dist/src, dist/gen, dist/examples);
 * 3. the files the compiled code reads beside itself: the Lua scripts (dist/src/broker/redis/lua)
 *    and the migrations (dist/drizzle), at the same relative paths as in the checkout;
 * 4. the CLI's front end as one ES module (`dist/cli/taskwire.js`, what `bin/taskwire.js` runs):
 *    the command tree, the client and their pure-JavaScript dependencies in one file, so a client
 *    command loads one module instead of some 600. The server, the worker SDK and the stores stay
 *    outside it, loaded from dist/src when a command needs them: a task module importing
 *    `taskwire/worker` then shares the CLI's worker classes, and the native and WebAssembly
 *    packages load from node_modules as usual.
 *
 * `node scripts/build.mjs [outDir]` builds into another folder (default: dist). The build fails
 * (non-zero exit) on any type error.
 *
 * Not `prepare`: npm 11's `npx taskwire` in a checkout installs the checkout into its cache and
 * runs `prepare` each time, a full build per command. `--after-install` (the `postinstall` hook)
 * skips the build under `npm exec`/`npx` for the same reason; the installed package has no
 * scripts/ folder, so its `postinstall` does nothing.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";

const afterInstall = process.argv.includes("--after-install");
if (afterInstall && process.env.npm_command === "exec") process.exit(0);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = resolve(root, process.argv.slice(2).find((arg) => !arg.startsWith("--")) ?? "dist");

/**
 * Modules of the CLI's front end that are loaded from the tsc output instead of being bundled
 * (paths under src/, without extension). Each is imported dynamically by the command that needs it.
 */
const OUTSIDE_THE_BUNDLE = [
  "server/index",
  "server/observability/otlp",
  "worker/index",
  "store/postgres-store",
  "store/pglite-store",
];

/** npm packages the bundle imports from node_modules: native, WebAssembly, worker threads, or a loader. */
const EXTERNAL_PACKAGES = [
  "@electric-sql/pglite",
  "drizzle-orm",
  "ioredis",
  "pino",
  "pino-pretty",
  "postgres",
  "prom-client",
  "tsx",
];

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    process.stderr.write(`build: ${command} ${args.join(" ")} failed (exit ${result.status ?? result.signal})\n`);
    process.exit(1);
  }
}

const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
if (manifest.scripts?.["build:ui"]) run("npm", ["run", "build:ui"]);

rmSync(outDir, { recursive: true, force: true });
run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.build.json"), "--outDir", outDir]);

cpSync(join(root, "src/broker/redis/lua"), join(outDir, "src/broker/redis/lua"), { recursive: true });
cpSync(join(root, "drizzle"), join(outDir, "drizzle"), { recursive: true });

const esbuild = await import("esbuild");
const cliDir = join(outDir, "cli");
mkdirSync(cliDir, { recursive: true });
const compiledSrc = join(outDir, "src") + sep;
await esbuild.build({
  entryPoints: [join(outDir, "src/cli/main.js")],
  outfile: join(cliDir, "taskwire.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: EXTERNAL_PACKAGES,
  // commander and other CommonJS dependencies call require(): give the ES module one.
  banner: { js: 'import { createRequire as __taskwireRequire } from "node:module";\nconst require = __taskwireRequire(import.meta.url);' },
  logLevel: "warning",
  plugins: [
    {
      name: "taskwire-outside-the-bundle",
      setup(build) {
        build.onResolve({ filter: /^\.\.?\// }, (args) => {
          const target = resolve(args.resolveDir, args.path);
          if (!target.startsWith(compiledSrc)) return undefined;
          const module = relative(compiledSrc, target).split(sep).join("/").replace(/\.js$/, "");
          if (!OUTSIDE_THE_BUNDLE.includes(module)) return undefined;
          if (args.kind !== "dynamic-import") {
            throw new Error(`${module} is imported statically by ${args.importer}: the CLI loads it only when a command needs it`);
          }
          return { path: `./${relative(cliDir, target).split(sep).join("/")}`, external: true };
        });
      },
    },
  ],
});
if (!existsSync(join(cliDir, "taskwire.js"))) {
  process.stderr.write("build: the CLI bundle was not written\n");
  process.exit(1);
}
process.stdout.write(`built ${relative(root, outDir) || "."}\n`);
