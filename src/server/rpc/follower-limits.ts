/**
 * Places of followers: the `StreamProgress` streams and waiting `GetResult` calls a server holds
 * open. Each holds a subscription and a little memory (one client key opening about 10,000
 * streams exhausted a 256 MB heap), so their number is bounded three ways, each refused with
 * `RESOURCE_EXHAUSTED` (`TOO_MANY_SUBSCRIBERS`) naming its setting: per task
 * (`maxSubscribersPerTask`), per API key over all tasks (`maxSubscribersPerKey`; without
 * authentication there are no keys and only the other two apply), and per server
 * (`maxSubscribers`). Keep in line with the README's "Security".
 */
import { SETTINGS, type ServerConfig } from "../../config/config.js";
import { ResourceExhaustedError } from "../../core/errors.js";

/** The three bounds (`ServerConfig`). */
export type FollowerBounds = Pick<ServerConfig, "maxSubscribersPerTask" | "maxSubscribersPerKey" | "maxSubscribers">;

function setting(key: keyof FollowerBounds): string {
  return `${SETTINGS[key].env} (--${SETTINGS[key].flag})`;
}

/** Counts follower places per task, per key and in all. */
export class FollowerLimits {
  readonly #perTask = new Map<string, number>();
  readonly #perKey = new Map<string, number>();
  #total = 0;

  constructor(private readonly bounds: FollowerBounds) {}

  /** Places taken now, in all. */
  get total(): number {
    return this.#total;
  }

  /**
   * Takes a place following `taskId` for the caller of API key `keyId` (undefined: no key).
   * @returns the release of the place; safe to call twice.
   * @throws ResourceExhaustedError when any bound is reached.
   */
  take(taskId: string, keyId: string | undefined): () => void {
    const { maxSubscribersPerTask, maxSubscribersPerKey, maxSubscribers } = this.bounds;
    const onTask = this.#perTask.get(taskId) ?? 0;
    if (onTask >= maxSubscribersPerTask) {
      throw new ResourceExhaustedError(
        "TOO_MANY_SUBSCRIBERS",
        `task ${taskId} already has ${maxSubscribersPerTask} subscribers on this server, the limit set by ${setting("maxSubscribersPerTask")}; try again later or poll GetStatus`,
      );
    }
    const ofKey = keyId === undefined ? 0 : (this.#perKey.get(keyId) ?? 0);
    if (keyId !== undefined && ofKey >= maxSubscribersPerKey) {
      throw new ResourceExhaustedError(
        "TOO_MANY_SUBSCRIBERS",
        `API key "${keyId}" already has ${maxSubscribersPerKey} subscribers (StreamProgress streams and waiting GetResult calls) on this server, the limit set by ${setting("maxSubscribersPerKey")}; close some, or poll GetStatus`,
      );
    }
    if (this.#total >= maxSubscribers) {
      throw new ResourceExhaustedError(
        "TOO_MANY_SUBSCRIBERS",
        `this server already holds ${maxSubscribers} subscribers, the limit set by ${setting("maxSubscribers")}; try again later or poll GetStatus`,
      );
    }
    this.#perTask.set(taskId, onTask + 1);
    if (keyId !== undefined) this.#perKey.set(keyId, ofKey + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      decrement(this.#perTask, taskId);
      if (keyId !== undefined) decrement(this.#perKey, keyId);
    };
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left > 0) counts.set(key, left);
  else counts.delete(key);
}
