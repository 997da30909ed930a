/**
 * Deadlines (`grpc-timeout`, `connect-timeout-ms`) for every RPC. connect-es aborts a
 * handler's `context.signal` when the caller's deadline passes, but a handler that then returns
 * normally (GetResult's wait stops early and answers with the task as it is; StreamProgress ends
 * its stream) would still be reported as a success, after the deadline. This interceptor makes
 * the deadline final: once it has passed, the call ends with `DEADLINE_EXCEEDED`, whether the
 * handler is still running, has returned, or is between two stream messages.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/** The deadline error when `signal` was aborted by the call's deadline; otherwise undefined. */
export function deadlineErrorOf(signal: AbortSignal): ConnectError | undefined {
  const reason: unknown = signal.reason;
  return signal.aborted && reason instanceof ConnectError && reason.code === Code.DeadlineExceeded ? reason : undefined;
}

/** Resolves like `promise`, or rejects with the deadline error as soon as the deadline passes. */
function raceDeadline<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  const passed = deadlineErrorOf(signal);
  if (passed) {
    promise.catch(() => undefined);
    return Promise.reject(passed);
  }
  if (signal.aborted) return promise; // cancelled by the client or a shutdown: nobody to answer
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      const error = deadlineErrorOf(signal);
      if (error) reject(error);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

async function* untilDeadline<T>(messages: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = messages[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = await raceDeadline(iterator.next(), signal);
      if (next.done) {
        finished = true;
        break;
      }
      yield next.value;
    }
  } finally {
    // Not awaited: a generator still waiting for its next value only returns once that arrives
    // (the handler sees the aborted signal and stops).
    if (!finished) iterator.return?.()?.catch(() => undefined);
  }
  const passed = deadlineErrorOf(signal);
  if (passed) throw passed;
}

/** Ends every unary and streaming call with `DEADLINE_EXCEEDED` once its deadline has passed. */
export function deadlineEnforcer(): Interceptor {
  return (next) => async (request) => {
    const response = await raceDeadline(next(request), request.signal);
    if (!response.stream) {
      const passed = deadlineErrorOf(request.signal);
      if (passed) throw passed;
      return response;
    }
    return { ...response, message: untilDeadline(response.message, request.signal) };
  };
}
