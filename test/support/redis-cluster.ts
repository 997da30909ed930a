/**
 * A Redis Cluster of a test file's own: three masters (`redis-server --cluster-enabled yes`)
 * on free ports, each in its own directory under a temporary folder, joined by
 * `redis-cli --cluster create … --cluster-replicas 0`. Nothing is saved to disk; the shared
 * Redis on 6379 is never touched. Start it once per file (`beforeAll`) and always stop it
 * (`afterAll`).
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Cluster, Redis } from "ioredis";
import { freePort } from "./private-redis.js";

const run = promisify(execFile);

/** A running three-master cluster. */
export interface TestRedisCluster {
  /** Ports of the masters. */
  readonly ports: readonly number[];
  /** `redis+cluster://127.0.0.1:<port>,127.0.0.1:<port>,…`: every master as a seed node. */
  readonly url: string;
  /** `FLUSHALL` on every master: the whole dispatch index is lost. */
  flushAll(): Promise<void>;
  /** `FLUSHALL` on the master serving `key`'s slot only. */
  flushNodeOf(key: string): Promise<void>;
  /** The port of the master serving `key`'s slot. */
  masterOf(key: string): Promise<number>;
  /** Every key under `prefix`, over all masters (SCAN on each). */
  keysWithPrefix(prefix: string): Promise<string[]>;
  /** A cluster client for a test to look at keys; close it with `quit()`. */
  client(): Cluster;
  /**
   * Stops every node and starts it again on its ports, empty (nothing is saved) but with its
   * cluster configuration (`nodes.conf`), and waits until the cluster is ok: Redis lost, the
   * cluster back.
   */
  restart(): Promise<void>;
  /** Stops every node and deletes the folder. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts one node. Its cluster bus gets a free port of its own (`--cluster-port`): the default,
 * the port + 10000, may be taken or beyond 65535 for a port picked from the ephemeral range.
 */
async function startNode(port: number, busPort: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    [
      "--port", String(port),
      "--cluster-port", String(busPort),
      "--bind", "127.0.0.1",
      "--cluster-enabled", "yes",
      "--cluster-config-file", join(dir, "nodes.conf"),
      "--cluster-node-timeout", "5000",
      "--dir", dir,
      "--save", "",
      "--appendonly", "no",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) {
        child.stdout?.off("data", onData);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`redis-server (cluster node on ${port}) exited (${code}) before it was ready:\n${output}`)));
  });
  return child;
}

async function stopNode(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  await exited;
}

/** Waits until every master reports `cluster_state:ok` (the slots are assigned and known to all). */
async function waitForClusterOk(ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    const node = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
    try {
      for (;;) {
        const info = await node.cluster("INFO");
        if (/cluster_state:ok/.test(String(info))) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      node.disconnect();
    }
  }
}

/** The port of the master serving `key`'s slot, from `CLUSTER SLOTS`. */
async function masterPort(cluster: Cluster, key: string): Promise<number> {
  const slot = Number(await cluster.cluster("KEYSLOT", key));
  const ranges = await cluster.cluster("SLOTS");
  const port = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
  if (port === undefined) throw new Error(`no master serves slot ${slot}`);
  return port;
}

/** Starts three masters and creates the cluster; stop it with {@link TestRedisCluster.stop}. */
export async function startRedisCluster(): Promise<TestRedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), "taskwire-cluster-"));
  const nodes: ChildProcess[] = [];
  const addresses: { port: number; busPort: number; dir: string }[] = [];
  const ports: number[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map(stopNode));
    await rm(dir, { recursive: true, force: true });
  };
  // Six distinct free ports: three for clients, three for the cluster bus.
  const picked = new Set<number>();
  while (picked.size < 6) picked.add(await freePort());
  const free = [...picked];
  try {
    for (let i = 0; i < 3; i++) {
      const port = free[i] ?? 0;
      const busPort = free[i + 3] ?? 0;
      const nodeDir = join(dir, `node-${i}`);
      await mkdir(nodeDir);
      nodes.push(await startNode(port, busPort, nodeDir));
      addresses.push({ port, busPort, dir: nodeDir });
      ports.push(port);
    }
    await run("redis-cli", ["--cluster", "create", ...ports.map((port) => `127.0.0.1:${port}`), "--cluster-replicas", "0", "--cluster-yes"]);
    await waitForClusterOk(ports);
  } catch (error) {
    await stop();
    throw error;
  }

  const client = (): Cluster => new Cluster(ports.map((port) => ({ host: "127.0.0.1", port })), { redisOptions: { maxRetriesPerRequest: 1 } });
  const onEveryMaster = async <T>(action: (node: Redis) => Promise<T>): Promise<T[]> => {
    const cluster = client();
    try {
      await cluster.ping();
      return await Promise.all(cluster.nodes("master").map(action));
    } finally {
      await cluster.quit();
    }
  };

  return {
    ports,
    url: `redis+cluster://${ports.map((port) => `127.0.0.1:${port}`).join(",")}`,
    async flushAll() {
      await onEveryMaster((node) => node.flushall());
    },
    async flushNodeOf(key) {
      const cluster = client();
      try {
        const port = await masterPort(cluster, key);
        await cluster.ping();
        const node = cluster.nodes("master").find((candidate) => candidate.options.port === port);
        if (node === undefined) throw new Error(`no master on port ${port}`);
        await node.flushall();
      } finally {
        await cluster.quit();
      }
    },
    async masterOf(key) {
      const cluster = client();
      try {
        return await masterPort(cluster, key);
      } finally {
        await cluster.quit();
      }
    },
    async keysWithPrefix(prefix) {
      const perNode = await onEveryMaster(async (node) => {
        const keys: string[] = [];
        let cursor = "0";
        do {
          const [next, batch] = await node.scan(cursor, "MATCH", `${prefix.replace(/[*?[\]\\]/g, "\\$&")}:*`, "COUNT", 1000);
          keys.push(...batch);
          cursor = next;
        } while (cursor !== "0");
        return keys;
      });
      return perNode.flat().sort();
    },
    client,
    async restart() {
      await Promise.all(nodes.map(stopNode));
      const started = await Promise.all(addresses.map(({ port, busPort, dir: nodeDir }) => startNode(port, busPort, nodeDir)));
      nodes.splice(0, nodes.length, ...started);
      await waitForClusterOk(ports);
    },
    stop,
  };
}
