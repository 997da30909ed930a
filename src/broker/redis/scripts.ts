/**
 * The broker's Lua scripts: each file under `./lua/` is read once per process, its
 * `--- @include "<name>"` lines replaced by `./lua/includes/<name>.lua`, and registered on a
 * connection with ioredis `defineCommand` under a versioned name (`taskwireClaimV2`). ioredis
 * sends a script's body once per connection and `EVALSHA` after that.
 *
 * Every script gets one typed wrapper below, which knows the order of its KEYS and ARGV (keep
 * in line with each file's header) and checks the shape of its reply: no `any` crosses the
 * Redis boundary.
 */
import { readFile } from "node:fs/promises";
import type { Cluster, Redis } from "ioredis";
import { PRIORITY_MAX } from "../../core/limits.js";
import type { RedisKeys } from "./keys.js";

/**
 * Bumped whenever a script changes its KEYS, ARGV or reply, so that a command name always
 * means one contract.
 */
export const SCRIPT_VERSION = 2;

/** The script files, by the name of their wrapper. File names are `<name>-<numberOfKeys>.lua`. */
const SCRIPT_FILES = {
  enqueue: "enqueue-2.lua",
  schedule: "schedule-1.lua",
  promoteDue: "promote-due-3.lua",
  claim: "claim-1.lua",
  renew: "renew-1.lua",
  release: "release-1.lua",
  requeue: "requeue-4.lua",
  remove: "remove-2.lua",
  reapExpired: "reap-expired-1.lua",
  lease: "lease-1.lua",
  indexMissing: "index-missing-4.lua",
  counts: "counts-3.lua",
  epochSwap: "epoch-swap-1.lua",
  holdDutyLease: "hold-duty-lease-1.lua",
  releaseDutyLease: "release-duty-lease-1.lua",
  publish: "publish-0.lua",
} as const;

/** Names of the broker's scripts. */
export type ScriptName = keyof typeof SCRIPT_FILES;

/** One script, ready for `defineCommand`. */
export interface ScriptSource {
  readonly name: ScriptName;
  /** The file under `./lua/`. */
  readonly file: string;
  /** The command it is registered as, e.g. `taskwireClaimV2`. */
  readonly commandName: string;
  /** Taken from the file name. */
  readonly numberOfKeys: number;
  /** The body, includes expanded. */
  readonly lua: string;
}

const INCLUDE = /^--- @include "([a-z0-9-]+)"$/gm;

let sources: Promise<ReadonlyMap<ScriptName, ScriptSource>> | undefined;

/**
 * Reads every script once per process (later calls share the first read).
 * @returns the scripts by name.
 */
export function loadScriptSources(): Promise<ReadonlyMap<ScriptName, ScriptSource>> {
  if (sources === undefined) {
    sources = readScriptSources();
    // A failed read (a file missing from a broken install) is not cached for good.
    sources.catch(() => {
      sources = undefined;
    });
  }
  return sources;
}

async function readScriptSources(): Promise<ReadonlyMap<ScriptName, ScriptSource>> {
  const includes = new Map<string, Promise<string>>();
  const include = (name: string): Promise<string> => {
    let text = includes.get(name);
    if (text === undefined) {
      text = readFile(new URL(`./lua/includes/${name}.lua`, import.meta.url), "utf8");
      includes.set(name, text);
    }
    return text;
  };

  const entries = await Promise.all(
    (Object.entries(SCRIPT_FILES) as [ScriptName, string][]).map(async ([name, file]): Promise<[ScriptName, ScriptSource]> => {
      const raw = await readFile(new URL(`./lua/${file}`, import.meta.url), "utf8");
      const names = [...raw.matchAll(INCLUDE)].map((match) => match[1] ?? "");
      const bodies = new Map<string, string>();
      for (const includeName of names) bodies.set(includeName, await include(includeName));
      const lua = raw.replace(INCLUDE, (_line, includeName: string) => bodies.get(includeName) ?? "");
      const keys = /-(\d+)\.lua$/.exec(file)?.[1];
      if (keys === undefined) throw new Error(`script file name without a key count: ${file}`);
      const commandName = `taskwire${name[0]?.toUpperCase() ?? ""}${name.slice(1)}V${SCRIPT_VERSION}`;
      return [name, { name, file, commandName, numberOfKeys: Number(keys), lua }];
    }),
  );
  return new Map(entries);
}

/** A queue entry as the scripts take it. */
interface ScriptEntry {
  readonly id: string;
  readonly type: string;
  readonly priority: number;
}

/** An entry that is runnable when `runAt` is absent or due, else delayed. */
type TimedScriptEntry = ScriptEntry & { readonly runAt?: number | undefined };

/** The typed wrappers of the broker's scripts, bound to one connection and one key builder. */
export interface RedisScripts {
  /** `enqueue-2.lua`: adds runnable ids to their type's set in `queue`, wakes dispatchers. @returns how many were new. */
  enqueue(queue: string, entries: readonly ScriptEntry[]): Promise<number>;
  /** `schedule-1.lua`: adds delayed ids to `queue`. @returns how many were new. */
  schedule(queue: string, entries: readonly (ScriptEntry & { readonly runAt: number })[]): Promise<number>;
  /** `promote-due-3.lua`: moves up to `limit` due ids of `queue` to their type's set, wakes dispatchers. */
  promoteDue(queue: string, now: number, limit: number): Promise<{ promoted: string[]; nextRunAt: number | null }>;
  /**
   * `claim-1.lua`: pops up to `count` ids of `queue` of the given types (at least one, no
   * duplicates) in dispatch order and leases them until `leaseUntil`.
   */
  claim(queue: string, types: readonly string[], count: number, leaseUntil: number): Promise<string[]>;
  /** `renew-1.lua`: moves existing leases of `queue` to `leaseUntil`. @returns how many existed. */
  renew(queue: string, ids: readonly string[], leaseUntil: number): Promise<number>;
  /** `release-1.lua`: drops leases of `queue`. @returns how many existed. */
  release(queue: string, ids: readonly string[]): Promise<number>;
  /**
   * `requeue-4.lua`: drops leases and puts ids back, runnable when `runAt` is absent or
   * `<= now`, else delayed; wakes dispatchers. @returns how many became runnable.
   */
  requeue(queue: string, entries: readonly TimedScriptEntry[], now: number): Promise<number>;
  /** `remove-2.lua`: removes ids from their runnable set, the delayed set and leases. @returns members removed. */
  remove(queue: string, entries: readonly ScriptEntry[]): Promise<number>;
  /** `reap-expired-1.lua`: takes up to `limit` leases expired before `now`, pushes them to `reclaimUntil`. */
  reapExpired(queue: string, now: number, limit: number, reclaimUntil: number): Promise<string[]>;
  /** `lease-1.lua`: creates or moves leases of `queue` to `leaseUntil`. @returns how many were created. */
  lease(queue: string, ids: readonly string[], leaseUntil: number): Promise<number>;
  /**
   * `index-missing-4.lua`: indexes the entries found in none of the queue's sets (runnable when
   * `runAt` is absent or `<= now`, else delayed); wakes dispatchers. @returns how many were added.
   */
  indexMissing(queue: string, entries: readonly TimedScriptEntry[], now: number): Promise<number>;
  /** `counts-3.lua`: sizes of the queue's sets, runnable summed over its types. */
  counts(queue: string): Promise<{ pending: number; delayed: number; leased: number }>;
  /**
   * `epoch-swap-1.lua`: sets the epoch marker to `next` ("" deletes it; `ttlMs` 0: no expiry)
   * while it holds `expected`. @returns whether it changed.
   */
  epochSwap(expected: string, next: string, ttlMs: number): Promise<boolean>;
  /** `hold-duty-lease-1.lua`: takes or extends the duty lease `name` for `holder`. @returns whether `holder` holds it. */
  holdDutyLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** `release-duty-lease-1.lua`: deletes the duty lease `name` if `holder` holds it. @returns whether it did. */
  releaseDutyLease(name: string, holder: string): Promise<boolean>;
  /** `publish-0.lua`: publishes each message on its channel, in order. @returns how many. */
  publish(messages: readonly { readonly channel: string; readonly message: Buffer }[]): Promise<number>;
}

type Argument = string | number | Buffer;
type ScriptCall = (...args: Argument[]) => Promise<unknown>;

/**
 * Registers every script on `redis` (once per connection) and returns its typed wrappers.
 * @param redis - the command connection (one Redis, or a cluster client: each script call goes to its queue's slot).
 * @param keys - names the keys and the wake channel the scripts use.
 */
export async function defineScripts(redis: Redis | Cluster, keys: RedisKeys): Promise<RedisScripts> {
  const scripts = await loadScriptSources();
  const commands = new Map<ScriptName, ScriptCall>();
  for (const script of scripts.values()) {
    redis.defineCommand(script.commandName, { lua: script.lua, numberOfKeys: script.numberOfKeys });
    const command: unknown = Reflect.get(redis, script.commandName);
    if (typeof command !== "function") throw new Error(`ioredis did not define ${script.commandName}`);
    commands.set(script.name, (...args) => Promise.resolve(command.apply(redis, args)));
  }
  const run = (name: ScriptName, args: Argument[]): Promise<unknown> => {
    const command = commands.get(name);
    if (command === undefined) throw new Error(`script not loaded: ${name}`);
    return command(...args);
  };
  const wake = keys.wakeChannel();

  return {
    async enqueue(queue, entries) {
      const args: Argument[] = [keys.types(queue), keys.seq(queue), keys.pendingPrefix(queue), PRIORITY_MAX, wake, queue];
      for (const entry of entries) args.push(entry.id, entry.type, entry.priority);
      return integerReply("enqueue", await run("enqueue", args));
    },

    async schedule(queue, entries) {
      const args: Argument[] = [keys.delayed(queue)];
      for (const entry of entries) args.push(entry.id, entry.type, entry.priority, entry.runAt);
      return integerReply("schedule", await run("schedule", args));
    },

    async promoteDue(queue, now, limit) {
      const reply = await run("promoteDue", [
        keys.delayed(queue),
        keys.types(queue),
        keys.seq(queue),
        now,
        limit,
        keys.pendingPrefix(queue),
        PRIORITY_MAX,
        wake,
        queue,
      ]);
      if (!Array.isArray(reply) || reply.length === 0) throw unexpectedReply("promoteDue", reply);
      const [next, ...promoted] = reply as unknown[];
      if (next !== null && typeof next !== "string") throw unexpectedReply("promoteDue", reply);
      return { promoted: stringsOf("promoteDue", promoted), nextRunAt: next === null ? null : Number(next) };
    },

    async claim(queue, types, count, leaseUntil) {
      const args: Argument[] = [keys.leases(queue), keys.pendingPrefix(queue), count, leaseUntil, ...types];
      return stringArrayReply("claim", await run("claim", args));
    },

    async renew(queue, ids, leaseUntil) {
      return integerReply("renew", await run("renew", [keys.leases(queue), leaseUntil, ...ids]));
    },

    async release(queue, ids) {
      return integerReply("release", await run("release", [keys.leases(queue), ...ids]));
    },

    async requeue(queue, entries, now) {
      const args = timedArgs(keys, wake, queue, now);
      for (const entry of entries) args.push(entry.id, entry.type, entry.priority, entry.runAt ?? "");
      return integerReply("requeue", await run("requeue", args));
    },

    async remove(queue, entries) {
      const args: Argument[] = [keys.delayed(queue), keys.leases(queue), keys.pendingPrefix(queue)];
      for (const entry of entries) args.push(entry.id, entry.type, entry.priority);
      return integerReply("remove", await run("remove", args));
    },

    async reapExpired(queue, now, limit, reclaimUntil) {
      return stringArrayReply("reapExpired", await run("reapExpired", [keys.leases(queue), now, limit, reclaimUntil]));
    },

    async lease(queue, ids, leaseUntil) {
      return integerReply("lease", await run("lease", [keys.leases(queue), leaseUntil, ...ids]));
    },

    async indexMissing(queue, entries, now) {
      const args = timedArgs(keys, wake, queue, now);
      for (const entry of entries) args.push(entry.id, entry.type, entry.priority, entry.runAt ?? "");
      return integerReply("indexMissing", await run("indexMissing", args));
    },

    async counts(queue) {
      const reply = await run("counts", [keys.types(queue), keys.delayed(queue), keys.leases(queue), keys.pendingPrefix(queue)]);
      if (!Array.isArray(reply) || reply.length !== 3) throw unexpectedReply("counts", reply);
      const [pending, delayed, leased] = (reply as unknown[]).map((value) => integerReply("counts", value));
      return { pending: pending ?? 0, delayed: delayed ?? 0, leased: leased ?? 0 };
    },

    async epochSwap(expected, next, ttlMs) {
      return integerReply("epochSwap", await run("epochSwap", [keys.epoch(), expected, next, ttlMs])) === 1;
    },

    async holdDutyLease(name, holder, ttlMs) {
      return integerReply("holdDutyLease", await run("holdDutyLease", [keys.dutyLease(name), holder, ttlMs])) === 1;
    },

    async releaseDutyLease(name, holder) {
      return integerReply("releaseDutyLease", await run("releaseDutyLease", [keys.dutyLease(name), holder])) === 1;
    },

    async publish(messages) {
      const args: Argument[] = [];
      for (const { channel, message } of messages) args.push(channel, message);
      return integerReply("publish", await run("publish", args));
    },
  };
}

/** KEYS and leading ARGV shared by `requeue-4.lua` and `index-missing-4.lua`, which take the same entries. */
function timedArgs(keys: RedisKeys, wake: string, queue: string, now: number): Argument[] {
  return [keys.delayed(queue), keys.leases(queue), keys.types(queue), keys.seq(queue), now, keys.pendingPrefix(queue), PRIORITY_MAX, wake, queue];
}

function integerReply(script: ScriptName, reply: unknown): number {
  if (typeof reply !== "number" || !Number.isInteger(reply)) throw unexpectedReply(script, reply);
  return reply;
}

function stringArrayReply(script: ScriptName, reply: unknown): string[] {
  if (!Array.isArray(reply)) throw unexpectedReply(script, reply);
  return stringsOf(script, reply as unknown[]);
}

function stringsOf(script: ScriptName, values: unknown[]): string[] {
  return values.map((value) => {
    if (typeof value !== "string") throw unexpectedReply(script, values);
    return value;
  });
}

function unexpectedReply(script: ScriptName, reply: unknown): Error {
  return new TypeError(`unexpected reply from Redis script ${script}: ${JSON.stringify(reply)}`);
}
