/** The broker: the dispatch index, leases, wake-ups, task-event fan-out, control messages and duty leases. */
export type { Broker, ControlTarget, DelayedEntry, IndexEpoch, LeaseRef, QueueCounts, QueueEntry, TaskEventPayload, Unsubscribe } from "./broker.js";
export { createKeys } from "./redis/keys.js";
export type { RedisKeys } from "./redis/keys.js";
export { MAX_ENTRIES_PER_SCRIPT_CALL, RedisBroker } from "./redis/redis-broker.js";
export type { RedisBrokerOptions } from "./redis/redis-broker.js";
export { MemoryBroker } from "./memory/memory-broker.js";
export type { MemoryBrokerOptions } from "./memory/memory-broker.js";
