/**
 * The broker as the server uses it, observed: dispatch claims and their latency, index
 * rebuilds, and the task-event subscriptions open (StreamProgress streams, waiting GetResult
 * calls); failures counted by operation (`observed-calls.ts`).
 */
import type { Broker, Unsubscribe } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";
import { isObservedBy, observeCalls } from "./observed-calls.js";
import type { ServerMetrics } from "./server-metrics.js";

/** `broker` with its claims, rebuilds and subscriptions measured, and its failures counted. */
export function observeBroker(broker: Broker, metrics: ServerMetrics, logger: Logger): Broker {
  if (isObservedBy(broker, metrics)) return broker;
  const observed = observeCalls(broker, "redis", metrics, logger, {
    claim(ids, [queue], startedMs) {
      metrics.claimed(queue, (Date.now() - startedMs) / 1000, ids.length);
    },
    endRebuild(ended, [, outcome]) {
      if (ended && outcome === "ready") metrics.indexRebuilt();
    },
  });
  // Subscriptions are counted while open: the gauge goes up on subscribe and down once on unsubscribe.
  const subscribe = observed.subscribeTaskEvents.bind(observed);
  return new Proxy(observed, {
    get(target, property, receiver) {
      if (property !== "subscribeTaskEvents") return Reflect.get(target, property, receiver) as unknown;
      return async (taskId: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe> => {
        const unsubscribe = await subscribe(taskId, listener);
        metrics.subscribers(1);
        let open = true;
        return async () => {
          if (open) {
            open = false;
            metrics.subscribers(-1);
          }
          await unsubscribe();
        };
      };
    },
  });
}
