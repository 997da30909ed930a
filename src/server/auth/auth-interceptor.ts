/**
 * The one place calls are authenticated: reads the bearer token of the `authorization` header,
 * finds its key, checks the key's role against the procedure (`roles.ts`), and hands the caller
 * to the handlers as a context value. Health and reflection pass without a key. Refusals are
 * domain errors, which the error mapper (outside this interceptor) turns into
 * `UNAUTHENTICATED` / `PERMISSION_DENIED`.
 */
import { createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { PermissionDeniedError, UnauthenticatedError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { AuthMode } from "./auth-mode.js";
import type { KeyStore } from "./key-store.js";
import { accessOf, ROLES, roleAllows, type Role } from "./roles.js";

/** The key a call was made with. */
export interface Caller {
  /** The key's id; tasks it submits record it. */
  readonly keyId: string;
  readonly role: Role;
}

/** The caller of the current call; undefined when authentication is off (or for open services). */
export const CALLER = createContextKey<Caller | undefined>(undefined, { description: "taskwire caller" });

/** The caller of the call `context` belongs to. */
export function callerOf(context: Pick<HandlerContext, "values">): Caller | undefined {
  return context.values.get(CALLER);
}

const HOW_TO = 'send the header "authorization: Bearer <token>" with an API key of the server';

/**
 * The caller named by an `authorization` header value.
 * @throws UnauthenticatedError when the header is missing, malformed or names no key.
 */
export function authenticate(header: string | null, keys: KeyStore): Caller {
  if (header === null || header.trim() === "") throw new UnauthenticatedError("API_KEY_MISSING", `missing API key: ${HOW_TO}`);
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw new UnauthenticatedError("API_KEY_INVALID", `malformed authorization header: ${HOW_TO}`);
  const key = keys.authenticate(match[1]);
  if (!key) throw new UnauthenticatedError("API_KEY_INVALID", "invalid API key: the server knows no key with this token");
  return { keyId: key.id, role: key.role };
}

/** Authenticates and authorizes every call; see the file header. */
export function authInterceptor(mode: AuthMode, logger: Logger): Interceptor {
  return (next) => async (request) => {
    if (mode.kind === "off") return next(request);
    const service = request.service.typeName;
    const method = request.method.name;
    const access = accessOf(service, method);
    if (access === "open") return next(request);
    let caller: Caller;
    try {
      caller = authenticate(request.header.get("authorization"), mode.keys);
    } catch (error) {
      logger.info({ procedure: `${service}/${method}`, reason: (error as UnauthenticatedError).reason }, "call refused: not authenticated");
      throw error;
    }
    if (!roleAllows(caller.role, access)) {
      const allowed = ROLES.filter((role) => roleAllows(role, access));
      logger.info({ procedure: `${service}/${method}`, keyId: caller.keyId, role: caller.role }, "call refused: role not allowed");
      throw new PermissionDeniedError(
        "ROLE_NOT_ALLOWED",
        `API key "${caller.keyId}" has role ${caller.role}, which may not call ${service}/${method} (roles allowed: ${allowed.join(", ")})`,
      );
    }
    request.contextValues.set(CALLER, caller);
    return next(request);
  };
}
