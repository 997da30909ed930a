/**
 * The one place calls are authenticated and authorized: the gate of the server's adapter
 * (`transport/gated-adapter.ts`), run on a call's headers before any of its body is read. It
 * reads the bearer token of the `authorization` header, finds its key, checks the key's role
 * against the procedure (`roles.ts`), and hands the caller to the handlers as a context value
 * (`caller.ts`). Refusals are domain errors, which the error mapper turns into
 * `UNAUTHENTICATED` / `PERMISSION_DENIED`.
 *
 * Health passes without a look at any header (probes). Reflection passes without a key, and
 * with a key it reads it (a wrong one is refused), so that it describes worker-declared types
 * to callers whose key may see them. Keep in line with the README's "Security" section.
 */
import { createContextValues } from "@connectrpc/connect";
import { PermissionDeniedError, type UnauthenticatedError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { CallGate, GateDecision } from "../transport/gated-adapter.js";
import type { AuthMode } from "./auth-mode.js";
import { authenticate, CALLER, type Caller } from "./caller.js";
import { accessOf, KEY_AWARE_OPEN_SERVICES, ROLES, roleAllows } from "./roles.js";

/** The gate of `mode`; see the file header. */
export function authGate(mode: AuthMode, logger: Logger): CallGate {
  const pass = (caller?: Caller): GateDecision => ({ pass: true, values: caller && createContextValues().set(CALLER, caller) });
  return ({ service, method, headers }) => {
    if (mode.kind === "off") return pass();
    const procedure = `${service.typeName}/${method.name}`;
    const access = accessOf(service.typeName, method.name);
    const header = headers.authorization ?? null;
    if (access === "open" && (header === null || !KEY_AWARE_OPEN_SERVICES.has(service.typeName))) return pass();
    let caller: Caller;
    try {
      caller = authenticate(header, mode.keys);
    } catch (error) {
      logger.info({ procedure, reason: (error as UnauthenticatedError).reason }, "call refused: not authenticated");
      return { pass: false, error };
    }
    if (!roleAllows(caller.role, access)) {
      const allowed = ROLES.filter((role) => roleAllows(role, access));
      logger.info({ procedure, keyId: caller.keyId, role: caller.role }, "call refused: role not allowed");
      return {
        pass: false,
        error: new PermissionDeniedError(
          "ROLE_NOT_ALLOWED",
          `API key "${caller.keyId}" has role ${caller.role}, which may not call ${procedure} (roles allowed: ${allowed.join(", ")})`,
        ),
      };
    }
    return pass(caller);
  };
}
