/**
 * The one place that names Redis keys and channels. Every per-queue key carries the hash tag
 * `{q:<queue>}` so that all keys one Lua script touches live in one Redis Cluster slot:
 *
 * | key / channel                     | type    | holds                                               |
 * |-----------------------------------|---------|-----------------------------------------------------|
 * | `<prefix>:{q:<queue>}:pending`    | ZSET    | runnable ids, score `(PRIORITY_MAX - priority) * 2^32 + seq` |
 * | `<prefix>:{q:<queue>}:delayed`    | ZSET    | `"<priority>|<id>"`, score = run time (epoch ms)    |
 * | `<prefix>:{q:<queue>}:leases`     | ZSET    | leased ids, score = lease deadline (epoch ms)       |
 * | `<prefix>:{q:<queue>}:seq`        | STRING  | arrival counter of the queue                        |
 * | `<prefix>:queues`                 | SET     | every queue name that ever held a task              |
 * | `<prefix>:epoch`                  | STRING  | index generation: `ready:<token>` or `rebuilding:<token>` |
 * | `<prefix>:wake` (channel)         | pub/sub | a queue name, when tasks of it became runnable      |
 * | `<prefix>:task:<id>` (channel)    | pub/sub | binary events about one task                        |
 *
 * Queue names are validated upstream against `QUEUE_NAME` (`src/core/limits.ts`), which admits
 * neither `{`, `}` nor `:`, so a queue name cannot break out of its hash tag. The prefix must not
 * hold braces either: Redis would take the first `{...}` of the key as its hash tag.
 */

/** Builds the names of a broker's keys and channels; see the module comment for the layout. */
export interface RedisKeys {
  /** The configured prefix every name starts with. */
  readonly prefix: string;
  /** Runnable tasks of `queue` (ZSET of ids by priority, then arrival). */
  pending(queue: string): string;
  /** Tasks of `queue` that become runnable later (ZSET of `"<priority>|<id>"` by run time). */
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
  /** Pub/sub channel that carries queue names whose tasks became runnable. */
  wakeChannel(): string;
  /** Pub/sub channel that carries the events of one task. */
  taskChannel(taskId: string): string;
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
    pending: (queue) => queueKey(queue, "pending"),
    delayed: (queue) => queueKey(queue, "delayed"),
    leases: (queue) => queueKey(queue, "leases"),
    seq: (queue) => queueKey(queue, "seq"),
    queues: () => `${prefix}:queues`,
    epoch: () => `${prefix}:epoch`,
    wakeChannel: () => `${prefix}:wake`,
    taskChannel: (taskId) => `${prefix}:task:${taskId}`,
  };
}
