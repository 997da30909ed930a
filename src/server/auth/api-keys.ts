/**
 * API keys as the server knows them: an id, a role and the SHA-256 of the token, never the token
 * itself. This file makes tokens, hashes them, and reads the two ways keys are configured:
 *
 * - a keys file (`TASKWIRE_API_KEYS_FILE`), either lines `<id> <role> sha256:<hex>` (blank lines
 *   and `#` comments allowed) or JSON: `{"keys": [{"id", "role", "hash": "sha256:<hex>"}]}`, or
 *   the bare array;
 * - the environment (`TASKWIRE_API_KEYS`): `<id>:<role>:<hex>` entries separated by commas
 *   (`sha256:` before the hex is accepted too).
 *
 * Keep in line with the README's "Security" section and `taskwire keys create`.
 */
import { createHash, randomBytes } from "node:crypto";
import { ConfigError } from "../../config/config.js";
import { isRole, ROLES, type Role } from "./roles.js";

/** One configured key. */
export interface ApiKey {
  /** Names the key in logs and owns the tasks it submits. */
  readonly id: string;
  readonly role: Role;
  /** SHA-256 of the token: 32 bytes. */
  readonly hash: Buffer;
}

/** Ids of keys: letters, digits and `_ . @ -`, at most 64 (no `:` `,` `/` or spaces, which the formats use). */
export const KEY_ID = /^[A-Za-z0-9_.@-]{1,64}$/;

/** The prefix of tokens made by {@link generateToken}, so secret scanners and people recognise them. */
export const TOKEN_PREFIX = "tw_";

/** A new random token: {@link TOKEN_PREFIX} and 32 random bytes in base64url (256 bits). */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString("base64url");
}

/** The SHA-256 of a token's UTF-8 bytes; always 32 bytes, whatever the token's length. */
export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** A key's line in a keys file: `<id> <role> sha256:<hex>`. */
export function keyFileLine(key: ApiKey): string {
  return `${key.id} ${key.role} sha256:${key.hash.toString("hex")}`;
}

/** A key's entry in `TASKWIRE_API_KEYS`: `<id>:<role>:<hex>`. */
export function keyEnvEntry(key: ApiKey): string {
  return `${key.id}:${key.role}:${key.hash.toString("hex")}`;
}

/**
 * Builds a key from its parts.
 * @param where names the place in error messages, like `TASKWIRE_API_KEYS_FILE (keys.txt) line 3`.
 * @throws ConfigError naming `where` and the bad part.
 */
export function apiKey(id: string, role: string, hash: string, where: string): ApiKey {
  if (!KEY_ID.test(id)) throw new ConfigError(`${where}: key id "${id}" must be 1 to 64 of letters, digits and _ . @ -`);
  if (!isRole(role)) throw new ConfigError(`${where}: key "${id}" has role "${role}"; roles are ${ROLES.join(", ")}`);
  const hex = hash.startsWith("sha256:") ? hash.slice("sha256:".length) : hash;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new ConfigError(`${where}: key "${id}" must give the SHA-256 of its token as 64 hex digits (sha256:<hex>), not the token`);
  }
  return { id, role, hash: Buffer.from(hex, "hex") };
}

/**
 * Reads a keys file's text: JSON when it starts with `{` or `[`, lines otherwise.
 * @param source names the file in error messages.
 */
export function parseKeysFile(text: string, source: string): ApiKey[] {
  const trimmed = text.trimStart();
  return trimmed.startsWith("{") || trimmed.startsWith("[") ? parseKeysJson(trimmed, source) : parseKeyLines(text, source);
}

function parseKeyLines(text: string, source: string): ApiKey[] {
  const keys: ApiKey[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") return;
    const where = `${source} line ${index + 1}`;
    const parts = line.split(/\s+/);
    if (parts.length !== 3) throw new ConfigError(`${where}: expected "<id> <role> sha256:<hex>", got ${parts.length} fields`);
    const [id, role, hash] = parts as [string, string, string];
    keys.push(apiKey(id, role, hash, where));
  });
  return keys;
}

function parseKeysJson(text: string, source: string): ApiKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new ConfigError(`${source}: expected {"keys": [...]} or an array of keys`);
  return list.map((entry: unknown, index) => {
    const where = `${source} keys[${index}]`;
    const { id, role, hash } = (entry ?? {}) as Record<string, unknown>;
    if (typeof id !== "string" || typeof role !== "string" || typeof hash !== "string") {
      throw new ConfigError(`${where}: expected {"id": string, "role": string, "hash": "sha256:<hex>"}`);
    }
    return apiKey(id, role, hash, where);
  });
}

/**
 * Reads `TASKWIRE_API_KEYS`: `<id>:<role>:<hex>` entries separated by commas.
 * @param source names the setting in error messages.
 */
export function parseKeysEnv(text: string, source: string): ApiKey[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry, index) => {
      const where = `${source} entry ${index + 1}`;
      const [id, role, ...rest] = entry.split(":");
      if (id === undefined || role === undefined || rest.length === 0) throw new ConfigError(`${where}: expected "<id>:<role>:<sha256 hex>"`);
      return apiKey(id, role, rest.join(":"), where);
    });
}
