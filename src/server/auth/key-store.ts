/**
 * The API keys a server accepts, loaded once at start from the keys file and the environment,
 * and the one lookup of a presented token. Only hashes are held; a token is hashed and compared
 * with every key's hash by `crypto.timingSafeEqual`, so neither the time of the comparison nor
 * the length of the token says anything about the keys.
 */
import { timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ConfigError, SETTINGS, type ServerConfig } from "../../config/config.js";
import { hashToken, parseKeysEnv, parseKeysFile, type ApiKey } from "./api-keys.js";
import { principalOf } from "./caller.js";

/** The accepted keys. */
export class KeyStore {
  readonly #keys: readonly ApiKey[];

  /** @throws ConfigError when two keys share an id or a token. */
  constructor(keys: readonly ApiKey[]) {
    const ids = new Set<string>();
    const hashes = new Set<string>();
    for (const key of keys) {
      if (ids.has(key.id)) throw new ConfigError(`API key id "${key.id}" is configured twice`);
      const hex = key.hash.toString("hex");
      if (hashes.has(hex)) throw new ConfigError(`API key "${key.id}" has the same token as another key`);
      ids.add(key.id);
      hashes.add(hex);
    }
    this.#keys = [...keys];
  }

  /** How many keys are configured. */
  get size(): number {
    return this.#keys.length;
  }

  /**
   * The principals of the keys, what may own task types and worker ids: `group:<name>` of each
   * group, `key:<id>` of each key in none (a key of a group owns nothing of its own).
   */
  principals(): Set<string> {
    return new Set(this.#keys.map(principalOf));
  }

  /** The ids and roles of the keys (for the start-up log; no hashes). */
  describe(): { id: string; role: string }[] {
    return this.#keys.map(({ id, role }) => ({ id, role }));
  }

  /**
   * The key whose token is `token`, or undefined. Compares the token's SHA-256 with every key's
   * in constant time, without stopping at a match.
   */
  authenticate(token: string): ApiKey | undefined {
    const presented = hashToken(token);
    let found: ApiKey | undefined;
    for (const key of this.#keys) {
      // Both sides are 32-byte digests, so timingSafeEqual never throws on a length mismatch.
      const equal = timingSafeEqual(key.hash, presented);
      if (equal && found === undefined) found = key;
    }
    return found;
  }
}

/**
 * Reads the keys of `TASKWIRE_API_KEYS_FILE` and `TASKWIRE_API_KEYS` (both may be given; ids must
 * differ).
 * @throws ConfigError naming the setting, file line or entry at fault.
 */
export async function loadKeyStore(config: Pick<ServerConfig, "apiKeysFile" | "apiKeys">): Promise<KeyStore> {
  const keys: ApiKey[] = [];
  if (config.apiKeysFile !== undefined) {
    const setting = `${SETTINGS.apiKeysFile.env} (--${SETTINGS.apiKeysFile.flag})`;
    let text: string;
    try {
      text = await readFile(config.apiKeysFile, "utf8");
    } catch (error) {
      throw new ConfigError(`${setting}: cannot read ${config.apiKeysFile}: ${(error as Error).message}`);
    }
    keys.push(...parseKeysFile(text, `${setting} ${config.apiKeysFile}`));
  }
  if (config.apiKeys !== undefined) {
    keys.push(...parseKeysEnv(config.apiKeys, `${SETTINGS.apiKeys.env} (--${SETTINGS.apiKeys.flag})`));
  }
  return new KeyStore(keys);
}
