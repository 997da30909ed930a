/**
 * What the Redis setting names: one Redis (`redis://`, `rediss://`), or a Redis Cluster, given
 * as `redis+cluster://[user:password@]host:port[,host:port…]` (`rediss+cluster://` for TLS) or
 * as a plain URL of one of its nodes with the cluster setting on (`--redis-cluster`). The nodes
 * of a cluster URL are seeds: the client learns every master from the first that answers.
 * Keep in line with the README's "Configuration" section.
 */

/** One node's address. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** Where the broker connects. */
export type RedisTarget =
  | { readonly kind: "single"; readonly url: string }
  | {
      readonly kind: "cluster";
      /** Seed nodes, at least one. */
      readonly nodes: readonly RedisNode[];
      readonly username: string | undefined;
      readonly password: string | undefined;
      /** `rediss`: TLS to every node. */
      readonly tls: boolean;
    };

/** The schemes of a Redis URL. */
export const REDIS_URL_SCHEMES = ["redis:", "rediss:", "redis+cluster:", "rediss+cluster:"] as const;

const DEFAULT_PORT = 6379;

/**
 * Reads a Redis URL.
 * @param url - `redis://…`, `rediss://…`, `redis+cluster://…` or `rediss+cluster://…`.
 * @param cluster - the cluster setting: a `redis://` URL then names a seed node of a cluster.
 * @throws RangeError naming what is wrong (a scheme, a node, a database other than 0 on a cluster).
 */
export function parseRedisTarget(url: string, cluster: boolean): RedisTarget {
  const scheme = /^([a-z+]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined || !(REDIS_URL_SCHEMES as readonly string[]).includes(`${scheme}:`)) {
    throw new RangeError(`must start with ${REDIS_URL_SCHEMES.map((s) => `${s}//`).join(", ")}`);
  }
  const clusterScheme = scheme.endsWith("+cluster");
  if (!clusterScheme && !cluster) {
    try {
      new URL(url);
    } catch {
      throw new RangeError("is not a URL");
    }
    return { kind: "single", url };
  }
  const rest = url.slice(scheme.length + 3);
  const at = rest.lastIndexOf("@");
  const credentials = at >= 0 ? rest.slice(0, at) : undefined;
  const afterCredentials = at >= 0 ? rest.slice(at + 1) : rest;
  const slash = afterCredentials.search(/[/?#]/);
  const hosts = slash >= 0 ? afterCredentials.slice(0, slash) : afterCredentials;
  const path = slash >= 0 ? afterCredentials.slice(slash) : "";
  const database = /^\/([^?#]*)/.exec(path)?.[1] ?? "";
  if (database !== "" && database !== "0") throw new RangeError(`names database ${database}: a Redis Cluster has only database 0`);
  const nodes = hosts.split(",").map((node) => parseNode(node.trim()));
  let username: string | undefined;
  let password: string | undefined;
  if (credentials !== undefined) {
    const colon = credentials.indexOf(":");
    username = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials) || undefined;
    password = colon >= 0 ? decodeURIComponent(credentials.slice(colon + 1)) || undefined : undefined;
  }
  return { kind: "cluster", nodes, username, password, tls: scheme.startsWith("rediss") };
}

function parseNode(text: string): RedisNode {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::(\d+))?$/i.exec(text);
  if (match === null) throw new RangeError(`names a node that is not host:port: "${text}"`);
  const host = match[1] ?? match[2] ?? "";
  const port = match[3] === undefined ? DEFAULT_PORT : Number(match[3]);
  if (!(port >= 1 && port <= 65535)) throw new RangeError(`names a node with port ${match[3] ?? ""}, not 1 to 65535: "${text}"`);
  return { host, port };
}
