/** The broker: the dispatch index, leases, wake-ups and task-event fan-out. */
export type { Broker, DelayedEntry, IndexEpoch, LeaseRef, QueueCounts, QueueEntry, Unsubscribe } from "./broker.js";
export { createKeys } from "./redis/keys.js";
export type { RedisKeys } from "./redis/keys.js";
export { MAX_ENTRIES_PER_SCRIPT_CALL, RedisBroker } from "./redis/redis-broker.js";
export type { RedisBrokerOptions } from "./redis/redis-broker.js";
export { MemoryBroker } from "./memory/memory-broker.js";
export type { MemoryBrokerOptions } from "./memory/memory-broker.js";
