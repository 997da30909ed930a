/**
 * The one error boundary: domain errors become `ConnectError`s with the right code, a clear
 * message and `google.rpc` details (`error-details.ts`); anything unexpected becomes
 * `Code.Internal` with no internals in the message (the full error is logged with the procedure
 * name).
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { rpcDetailsOf } from "./error-details.js";
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  TaskwireError,
  UnauthenticatedError,
  UnavailableError,
} from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";

/** Maps one thrown value to the error the client sees. */
export function toConnectError(error: unknown, logger: Logger, procedure: string): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof TaskwireError) {
    const code = codeOf(error);
    const connectError = new ConnectError(error.message, code, { "taskwire-reason": error.reason }, rpcDetailsOf(error, code));
    if (code === Code.Unavailable) logger.warn({ err: error, procedure }, "dependency unavailable");
    return connectError;
  }
  logger.error({ err: error, procedure }, "unexpected error in a handler");
  return new ConnectError("internal error", Code.Internal);
}

function codeOf(error: TaskwireError): Code {
  if (error instanceof InvalidArgumentError) return Code.InvalidArgument;
  if (error instanceof NotFoundError) return Code.NotFound;
  if (error instanceof FailedPreconditionError) return Code.FailedPrecondition;
  if (error instanceof AlreadyExistsError) return Code.AlreadyExists;
  if (error instanceof UnavailableError) return Code.Unavailable;
  if (error instanceof UnauthenticatedError) return Code.Unauthenticated;
  if (error instanceof PermissionDeniedError) return Code.PermissionDenied;
  if (error instanceof ResourceExhaustedError) return Code.ResourceExhausted;
  return Code.Internal;
}

/** Applies {@link toConnectError} to every unary and streaming call. */
export function errorMapper(logger: Logger): Interceptor {
  return (next) => async (request) => {
    const procedure = request.method.name;
    try {
      const response = await next(request);
      if (!response.stream) return response;
      return {
        ...response,
        message: mapStream(response.message, logger, procedure),
      };
    } catch (error) {
      throw toConnectError(error, logger, procedure);
    }
  };
}

async function* mapStream<T>(messages: AsyncIterable<T>, logger: Logger, procedure: string): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw toConnectError(error, logger, procedure);
  }
}
