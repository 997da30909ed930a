/**
 * How the CLI names gRPC status codes in its messages.
 */
import { Code } from "@connectrpc/connect";

/** `NOT_FOUND` for `Code.NotFound`: the gRPC spelling of a status code. */
export function codeName(code: Code): string {
  const name = Code[code] as string | undefined;
  return name ? name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase() : `CODE_${code}`;
}
