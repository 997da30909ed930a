/**
 * A PostgreSQL of a test's own: `initdb` into a temporary directory, `postgres` on a free port
 * with trust authentication and no durability (fsync off), stopped and started again on the
 * same data at will. The shared PostgreSQL on 5432 is never touched.
 *
 * PostgreSQL refuses to run as root; when the tests run as root, the server runs as the
 * `postgres` user (its data directory is handed over to it).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../support/private-redis.js";

/** A private PostgreSQL server process. */
export interface PrivatePostgres {
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  /** Fast shutdown (SIGINT: open transactions are rolled back); resolves once it exited. Safe to call twice. */
  stop(): Promise<void>;
  /** Starts it again on the same data and port; resolves once it accepts connections. */
  start(): Promise<void>;
  /**
   * Freezes it (SIGSTOP to the postmaster, then to each of its child processes: every backend
   * and background process): connections stay open and answer nothing, as a hung server or a
   * network dropping packets.
   */
  pause(): void;
  /** Lets a paused server go on (SIGCONT); what was sent to it meanwhile runs now. */
  resume(): void;
  /** Stops it and deletes its data. */
  destroy(): Promise<void>;
}

/** The directory of PostgreSQL's programs: where `initdb` lives. */
function binDirectory(): string {
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = execFileSync("ls", [root]).toString().trim().split("\n").filter(Boolean).sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      if (existsSync(join(root, version, "bin", "initdb"))) return join(root, version, "bin");
    }
  }
  const initdb = execFileSync("sh", ["-c", "command -v initdb"]).toString().trim();
  return initdb.slice(0, initdb.lastIndexOf("/"));
}

/** The ids of the processes whose parent is `pid` (from `/proc/<pid>/stat`). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may hold spaces and parentheses: read after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // exited while listed
    }
  }
  return children;
}

/** When running as root: the uid and gid of `postgres`, which PostgreSQL runs as. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"]).toString().trim());
  return { uid: id("-u"), gid: id("-g") };
}

function run(program: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ["ignore", "pipe", "pipe"], ...user });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`${program} exited with ${code}:\n${output}`))));
  });
}

/** Creates a database cluster in a temporary directory and starts PostgreSQL on a free port. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDirectory();
  const user = runAs();
  const root = await mkdtemp(join(tmpdir(), "taskwire-fault-pg-"));
  if (user) await chown(root, user.uid, user.gid);
  const data = join(root, "data");
  await run(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"], user);
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    const server = spawn(
      join(bin, "postgres"),
      [
        "-D", data, "-p", String(port), "-k", root,
        "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
        "-c", "full_page_writes=off", "-c", "max_connections=100",
      ],
      { stdio: ["ignore", "pipe", "pipe"], ...user },
    );
    child = server;
    exited = new Promise((resolve) => server.once("exit", () => resolve()));
    let output = "";
    await new Promise<void>((resolve, reject) => {
      // Keeps reading its log (a full pipe would block it); only the start is looked at.
      server.stderr?.on("data", (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-20_000);
        if (output.includes("database system is ready to accept connections")) resolve();
      });
      server.stdout?.resume();
      server.once("exit", (code) => reject(new Error(`postgres exited (${code}) before it was ready:\n${output}`)));
    });
  };

  const running = (): ChildProcess | undefined => (child && child.exitCode === null && child.signalCode === null ? child : undefined);
  /** The processes frozen by pause(): the postmaster first, then its children. */
  let paused: number[] = [];

  const pause = (): void => {
    const postmaster = running()?.pid;
    if (postmaster === undefined || paused.length > 0) return;
    // The postmaster first, so that it forks no backend meanwhile. Backends run in process
    // groups of their own (PostgreSQL calls setsid()), hence one signal each.
    process.kill(postmaster, "SIGSTOP");
    paused = [postmaster, ...childrenOf(postmaster)];
    for (const pid of paused.slice(1)) process.kill(pid, "SIGSTOP");
  };
  const resume = (): void => {
    for (const pid of paused.reverse()) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // exited meanwhile
      }
    }
    paused = [];
  };

  const stop = async (): Promise<void> => {
    resume(); // a paused server handles no SIGINT
    running()?.kill("SIGINT");
    await exited;
  };

  try {
    await start();
  } catch (error) {
    await stop();
    await rm(root, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    pause,
    resume,
    async destroy() {
      await stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
