/**
 * A decorator of the store or the broker that watches every call: failures are counted by
 * operation (`taskwire_backend_errors_total`), the first success after failures that said the
 * back end is unavailable counts as a reconnect, and chosen operations get a hook with their
 * result (the counters and spans of `observed-store.ts` and `observed-broker.ts`).
 *
 * A `Proxy`, so that every method of the interface, including ones added later, is watched
 * without being listed; each method's wrapper is made once. Hooks run after the call resolved
 * and never change its result: a hook that throws is logged and ignored.
 */
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { Backend, ServerMetrics } from "./server-metrics.js";

/** Result hooks of some methods of `T`, with the call's arguments and its start time (epoch ms). */
export type CallHooks<T> = {
  [K in keyof T]?: T[K] extends (...args: infer A) => Promise<infer R> ? (result: R, args: A, startedMs: number) => void : never;
};

/** Marks an observed object, so that observing it again returns it as it is. */
const OBSERVED = Symbol("taskwire.observed");

/** Whether `target` is a decorator of {@link observeCalls} for `metrics`. */
export function isObservedBy(target: object, metrics: ServerMetrics): boolean {
  return (target as { [OBSERVED]?: ServerMetrics })[OBSERVED] === metrics;
}

/** `target` with its calls watched; `target` itself when already observed by `metrics`. */
export function observeCalls<T extends object>(target: T, backend: Backend, metrics: ServerMetrics, logger: Logger, hooks: CallHooks<T>): T {
  if (isObservedBy(target, metrics)) return target;
  let unavailable = false;
  const wrappers = new Map<PropertyKey, unknown>();
  const failed = (operation: string, error: unknown): void => {
    if (error instanceof UnavailableError && error.reason === "SHUTTING_DOWN") return;
    metrics.backendError(backend, operation);
    if (error instanceof UnavailableError) unavailable = true;
  };
  const succeeded = (): void => {
    if (!unavailable) return;
    unavailable = false;
    metrics.backendRecovered(backend);
  };
  return new Proxy(target, {
    get(object, property, receiver) {
      if (property === OBSERVED) return metrics;
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== "function" || typeof property !== "string") return value;
      let wrapper = wrappers.get(property);
      if (wrapper === undefined) {
        const method = value as (...args: unknown[]) => unknown;
        const hook = (hooks as Record<string, ((result: unknown, args: unknown[], startedMs: number) => void) | undefined>)[property];
        wrapper = function (this: unknown, ...args: unknown[]): unknown {
          const startedMs = Date.now();
          let returned: unknown;
          try {
            returned = method.apply(object, args);
          } catch (error) {
            failed(property, error);
            throw error;
          }
          if (!(returned instanceof Promise)) return returned;
          return returned.then(
            (result: unknown) => {
              succeeded();
              if (hook !== undefined) {
                try {
                  hook(result, args, startedMs);
                } catch (error) {
                  logger.error({ err: error, operation: property }, "a metrics or tracing hook failed");
                }
              }
              return result;
            },
            (error: unknown) => {
              failed(property, error);
              throw error;
            },
          );
        };
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
  });
}
