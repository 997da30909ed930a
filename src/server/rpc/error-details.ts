/**
 * The `google.rpc` details every refusal carries, so clients in any language can act on an
 * error without parsing its message: `ErrorInfo` with the stable reason (the same as the
 * `taskwire-reason` header), `BadRequest` with the fields at fault, and `RetryInfo` when trying
 * again later can succeed. gRPC clients read them from the `grpc-status-details-bin` trailer (a
 * `google.rpc.Status`), Connect clients from the error's `details`.
 * Keep in line with the README's "Errors" section.
 */
import { Code, type ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { InvalidArgumentError, type TaskwireError } from "../../core/errors.js";

/** The `ErrorInfo.domain` of every Taskwire error; reasons are unique within it. */
export const ERROR_DOMAIN = "taskwire.dev";

/** How long clients are asked to wait before retrying an `UNAVAILABLE` call. */
export const RETRY_DELAY_SECONDS = 1;

/** One outgoing detail, as `ConnectError`'s constructor takes it (connect-es does not export the type). */
type OutgoingDetail = NonNullable<ConstructorParameters<typeof ConnectError>[3]>[number];

/** The details of a domain error that maps to `code`. */
export function rpcDetailsOf(error: TaskwireError, code: Code): OutgoingDetail[] {
  const details: OutgoingDetail[] = [{ desc: ErrorInfoSchema, value: { reason: error.reason, domain: ERROR_DOMAIN } }];
  if (error instanceof InvalidArgumentError && error.violations.length > 0) {
    details.push({
      desc: BadRequestSchema,
      value: { fieldViolations: error.violations.map(({ field, description }) => ({ field, description, reason: error.reason })) },
    });
  }
  if (code === Code.Unavailable) {
    details.push({ desc: RetryInfoSchema, value: { retryDelay: { seconds: BigInt(RETRY_DELAY_SECONDS) } } });
  }
  return details;
}
