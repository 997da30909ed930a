/**
 * Who makes a call: the key its `authorization` header names, found once per call by the auth
 * gate (`auth-gate.ts`) and handed to the handlers as a context value.
 */
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { UnauthenticatedError } from "../../core/errors.js";
import type { KeyStore } from "./key-store.js";
import type { Role } from "./roles.js";

/** The key a call was made with. */
export interface Caller {
  /** The key's id; tasks it submits record it. */
  readonly keyId: string;
  readonly role: Role;
  /**
   * What owns the task types the key declares and the worker ids it connects with:
   * `group:<name>` for a key of a key group, else `key:<id>` (`ownership.ts`).
   */
  readonly principal: string;
}

/** The caller of the current call; undefined when authentication is off (or for open services called without a key). */
export const CALLER = createContextKey<Caller | undefined>(undefined, { description: "taskwire caller" });

/** The caller of the call `context` belongs to. */
export function callerOf(context: Pick<HandlerContext, "values">): Caller | undefined {
  return context.values.get(CALLER);
}

/** The principal of a key: its group's (`group:<name>`) when it has one, else its own (`key:<id>`). */
export function principalOf(key: { readonly id: string; readonly group?: string }): string {
  return key.group === undefined ? `key:${key.id}` : `group:${key.group}`;
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
  return { keyId: key.id, role: key.role, principal: principalOf(key) };
}
