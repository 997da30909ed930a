/**
 * The index marker on a Redis Cluster. The one marker (`<prefix>:epoch:v2`, see `./keys.ts`)
 * lives on one master; a master that restarts empty or is flushed while the others keep their
 * data loses its queues' part of the index and leaves that marker standing. So a cluster's
 * index also carries a copy of the marker's token on every master
 * (`<prefix>:{m<n>}:epoch:v2`, with a hash tag chosen to fall in the lowest slot that master
 * serves, `./cluster-slot.ts`), written when a rebuild ends; the index counts as lost unless
 * every master holds the token.
 *
 * When slots move to another master (a reshard, a failover to a replica that lacks the copy),
 * a master may miss its copy although nothing was lost: that costs one extra rebuild, which is
 * idempotent (`src/server/engine/index-rebuild.ts`), never a lost task.
 */
import type { Cluster } from "ioredis";
import { tagForSlot } from "./cluster-slot.js";
import type { RedisKeys } from "./keys.js";

/** The per-master copies of the index marker's token on one cluster. */
export class ClusterEpochCopies {
  readonly #cluster: Cluster;
  readonly #keys: RedisKeys;

  constructor(cluster: Cluster, keys: RedisKeys) {
    this.#cluster = cluster;
    this.#keys = keys;
  }

  /** The copy's key of every master the client knows, one per master. */
  keys(): string[] {
    const lowestSlot = new Map<string, number>();
    this.#cluster.slots.forEach((nodes, slot) => {
      const master = nodes[0];
      if (master !== undefined && !lowestSlot.has(master)) lowestSlot.set(master, slot);
    });
    return [...lowestSlot.values()].map((slot) => this.#keys.masterEpoch(tagForSlot(slot)));
  }

  /** Whether every master holds `token` (false when the client knows no master). */
  async complete(token: string): Promise<boolean> {
    const keys = this.keys();
    if (keys.length === 0) return false;
    const values = await Promise.all(keys.map((key) => this.#cluster.get(key)));
    return values.every((value) => value === token);
  }

  /** Writes `token` on every master. */
  async write(token: string): Promise<void> {
    await Promise.all(this.keys().map((key) => this.#cluster.set(key, token)));
  }
}
