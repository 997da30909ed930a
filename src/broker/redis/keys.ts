/**
 * The one place that names Redis keys and channels. Every per-queue key carries the hash tag
 * `{q:<queue>}` so that all keys one Lua script touches live in one Redis Cluster slot:
 *
 * | key / channel                            | type    | holds                                               |
 * |------------------------------------------|---------|-----------------------------------------------------|
 * | `<prefix>:{q:<queue>}:pending:<type>`    | ZSET    | runnable ids of one type, score `(PRIORITY_MAX - priority) * 2^32 + seq` |
 * | `<prefix>:{q:<queue>}:types`             | SET     | every type that has had runnable tasks in the queue |
 * | `<prefix>:{q:<queue>}:delayed:v2`        | ZSET    | `"<priority>|<type>|<id>"`, score = run time (epoch ms) |
 * | `<prefix>:{q:<queue>}:leases`            | ZSET    | leased ids, score = lease deadline (epoch ms)       |
 * | `<prefix>:{q:<queue>}:seq`               | STRING  | arrival counter of the queue, shared by its types   |
 * | `<prefix>:queues`                        | SET     | every queue name that ever held a task              |
 * | `<prefix>:epoch:v2`                      | STRING  | index generation: `ready:<token>` or `rebuilding:<token>` |
 * | `<prefix>:{m<n>}:epoch:v2`               | STRING  | on a Redis Cluster: the ready token, once per master (`./cluster-epoch.ts`) |
 * | `<prefix>:duty:<name>`                   | STRING  | holder of a duty lease, expiring (PX)               |
 * | `<prefix>:wake` (channel)                | pub/sub | a queue name, when tasks of it became runnable      |
 * | `<prefix>:task:<id>` (channel)           | pub/sub | binary events about one task (sharded pub/sub on a Redis Cluster) |
 * | `<prefix>:control:server:<id>` (channel) | pub/sub | control messages for one server                     |
 * | `<prefix>:control:fleet` (channel)       | pub/sub | control messages for every server                   |
 *
 * A queue's runnable tasks are kept per type so that a claim reads only the types its worker
 * serves (`claim-1.lua`). The score stays comparable across a queue's types, because the
 * arrival counter is the queue's, so a claim over several types merges their heads in exact
 * priority-then-FIFO order. Scripts name a type's runnable set from {@link RedisKeys.pendingPrefix}
 * and the type (the type comes with each entry, or out of a delayed member), so those keys are
 * not in the script's KEYS; they carry the queue's hash tag like every key the script declares,
 * so they live in the same slot.
 *
 * Layout 2 (the per-type index) replaced the untyped `:pending`, the `"<priority>|<id>"`
 * members of `:delayed` and the marker `<prefix>:epoch`. The marker's new name means that a
 * server of layout 2 meeting an index of layout 1 finds no marker and rebuilds the index from
 * PostgreSQL; the keys of layout 1 are no longer read and may be deleted.
 *
 * Queue names are validated upstream against `QUEUE_NAME` and type names against `TYPE_NAME`
 * (`src/core/limits.ts`), which admit neither `{`, `}`, `:` nor `|`, so a queue name cannot
 * break out of its hash tag and a delayed member splits unambiguously. The prefix must not
 * hold braces either: Redis would take the first `{...}` of the key as its hash tag.
 */

/** Builds the names of a broker's keys and channels; see the module comment for the layout. */
export interface RedisKeys {
  /** The configured prefix every name starts with. */
  readonly prefix: string;
  /** Runnable tasks of one type in `queue` (ZSET of ids by priority, then arrival). */
  pending(queue: string, type: string): string;
  /** What {@link RedisKeys.pending} starts with for `queue`: scripts append the type. */
  pendingPrefix(queue: string): string;
  /** Every type that has had runnable tasks in `queue` (SET; `counts` sums their sets). */
  types(queue: string): string;
  /** Tasks of `queue` that become runnable later (ZSET of `"<priority>|<type>|<id>"` by run time). */
  delayed(queue: string): string;
  /** Leased tasks of `queue` (ZSET of ids by lease deadline). */
  leases(queue: string): string;
  /** Arrival counter of `queue`, the FIFO part of the pending score. */
  seq(queue: string): string;
  /** Every queue name that ever held a task (SET, not hash-tagged: it spans queues). */
  queues(): string;
  /**
   * The index's generation marker (STRING, not hash-tagged): missing when the index was lost
   * (Redis restarted empty, flushed); see `src/server/engine/index-guard.ts`.
   */
  epoch(): string;
  /**
   * On a Redis Cluster, a master's copy of the ready index token (STRING); `tag` is a hash tag
   * (no braces) that falls in a slot of that master (see `./cluster-epoch.ts`).
   */
  masterEpoch(tag: string): string;
  /** The lease of one periodic duty (STRING holding the holder, with an expiry). */
  dutyLease(name: string): string;
  /** Pub/sub channel that carries queue names whose tasks became runnable. */
  wakeChannel(): string;
  /** Pub/sub channel that carries the events of one task. */
  taskChannel(taskId: string): string;
  /** Pub/sub channel of the control messages for one server. */
  serverControlChannel(serverId: string): string;
  /** Pub/sub channel of the control messages for every server. */
  fleetControlChannel(): string;
}

/**
 * Creates the key builder for one prefix.
 * @param prefix - first part of every key and channel, so several deployments (or tests) can
 *   share one Redis; `ServerConfig.redisPrefix` defaults to `"taskwire"`.
 * @throws RangeError when the prefix holds `{` or `}`.
 */
export function createKeys(prefix: string): RedisKeys {
  if (/[{}]/.test(prefix)) {
    throw new RangeError(`Redis key prefix must not contain "{" or "}" (it would replace the queue hash tag): ${prefix}`);
  }
  const queueKey = (queue: string, part: string): string => `${prefix}:{q:${queue}}:${part}`;
  return {
    prefix,
    pending: (queue, type) => queueKey(queue, `pending:${type}`),
    pendingPrefix: (queue) => queueKey(queue, "pending:"),
    types: (queue) => queueKey(queue, "types"),
    delayed: (queue) => queueKey(queue, "delayed:v2"),
    leases: (queue) => queueKey(queue, "leases"),
    seq: (queue) => queueKey(queue, "seq"),
    queues: () => `${prefix}:queues`,
    epoch: () => `${prefix}:epoch:v2`,
    masterEpoch: (tag) => `${prefix}:{${tag}}:epoch:v2`,
    dutyLease: (name) => `${prefix}:duty:${name}`,
    wakeChannel: () => `${prefix}:wake`,
    taskChannel: (taskId) => `${prefix}:task:${taskId}`,
    serverControlChannel: (serverId) => `${prefix}:control:server:${serverId}`,
    fleetControlChannel: () => `${prefix}:control:fleet`,
  };
}
