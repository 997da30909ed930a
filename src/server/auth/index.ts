/**
 * Access control (issue 3): API keys with roles, checked by one interceptor; tasks owned by the
 * key that submitted them. See the README's "Security" section.
 */
export { apiKey, generateToken, hashToken, keyEnvEntry, keyFileLine, KEY_ID, parseKeysEnv, parseKeysFile, TOKEN_PREFIX } from "./api-keys.js";
export type { ApiKey } from "./api-keys.js";
export { authOffWarning, isLoopbackHost, loadAuthMode, resolveAuthMode } from "./auth-mode.js";
export type { AuthMode } from "./auth-mode.js";
export { authenticate, authInterceptor, CALLER, callerOf } from "./auth-interceptor.js";
export type { Caller } from "./auth-interceptor.js";
export { KeyStore, loadKeyStore } from "./key-store.js";
export { ownedBy, ownerScope, scopedIdempotencyKey, shownIdempotencyKey, visibleTo } from "./ownership.js";
export { accessOf, isRole, OPEN_SERVICES, PROCEDURE_PERMISSIONS, ROLE_PERMISSIONS, roleAllows, ROLES } from "./roles.js";
export type { Permission, Role } from "./roles.js";
