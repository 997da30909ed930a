/**
 * Access control (issue 3): API keys with roles, checked from a call's headers by one gate
 * before its body is read (issue 15); tasks owned by the key that submitted them, task types and
 * worker ids by the key (or key group) that first declared or used them. See the README's
 * "Security" section.
 */
export { apiKey, generateToken, hashToken, keyEnvEntry, keyFileLine, KEY_GROUP, KEY_ID, parseKeysEnv, parseKeysFile, TOKEN_PREFIX } from "./api-keys.js";
export type { ApiKey } from "./api-keys.js";
export { authOffWarning, isLoopbackHost, loadAuthMode, resolveAuthMode } from "./auth-mode.js";
export type { AuthMode } from "./auth-mode.js";
export { authGate } from "./auth-gate.js";
export { authenticate, CALLER, callerOf, principalOf } from "./caller.js";
export type { Caller } from "./caller.js";
export { KeyStore, loadKeyStore } from "./key-store.js";
export { ownedBy, ownerScope, scopedIdempotencyKey, shownIdempotencyKey, visibleTo } from "./ownership.js";
export { accessOf, CATALOG_PERMISSION, isRole, KEY_AWARE_OPEN_SERVICES, OPEN_SERVICES, PROCEDURE_PERMISSIONS, ROLE_PERMISSIONS, roleAllows, ROLES } from "./roles.js";
export type { Permission, Role } from "./roles.js";
