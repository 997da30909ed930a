/**
 * One process owns a data directory. PGlite is PostgreSQL in single-user mode: two processes
 * opening the same files would corrupt them, and nothing in PGlite stops the second one. So the
 * embedded store first takes `<dataDir>/taskwire.lock`, a file created exclusively (`O_EXCL`)
 * that holds the owner's pid, and removes it on close.
 *
 * A lock whose pid no longer runs (the owner crashed or was killed) is stale and taken over.
 * Taking over is serialised by a second exclusive file, `taskwire.lock.takeover`, so that two
 * processes finding the same stale lock cannot both remove it and both believe they own the
 * directory: the one that holds the takeover file removes the stale lock (only if it still holds
 * the same content), and then both race for the lock by exclusive create again, which one wins.
 *
 * Limits: liveness is checked with `process.kill(pid, 0)`, so the directory must not be shared by
 * processes of several machines (a network file system), and after a reboot a stale pid that a
 * new, unrelated process happens to reuse keeps the lock until the file is removed by hand (the
 * error says which file).
 */
import { mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** Name of the lock file inside the data directory. */
export const DATA_DIR_LOCK_FILE = "taskwire.lock";

/** A lock file still empty (or unreadable) after this long was left by a crash while being written. */
const UNWRITTEN_LOCK_STALE_MS = 2_000;
/** A takeover file older than this was left by a crash during a takeover. */
const TAKEOVER_STALE_MS = 10_000;
/** Pause before looking again at a lock that is being written or taken over. */
const RETRY_DELAY_MS = 25;
/** Bound on the acquire loop: only reached when other processes keep racing for the directory. */
const MAX_ATTEMPTS = 400;

/** Another live process owns the data directory. */
export class DataDirLockedError extends Error {
  override readonly name = "DataDirLockedError";

  constructor(
    /** The directory, absolute. */
    readonly dataDir: string,
    /** The owner's pid, as read from the lock file; null when it could not be read. */
    readonly ownerPid: number | null,
    /** The lock file, to remove by hand when it is known to be stale. */
    readonly lockFile: string,
  ) {
    super(
      `data directory ${dataDir} is in use by another Taskwire process (pid ${ownerPid ?? "unknown"}); ` +
        `stop that process or use another directory (if no such process runs, remove ${lockFile})`,
    );
  }
}

/** A held lock. */
export interface DataDirLock {
  /** The directory, absolute. */
  readonly dataDir: string;
  /** The lock file. */
  readonly lockFile: string;
  /** Removes the lock file (if it is still ours); safe to call twice. */
  release(): Promise<void>;
}

/**
 * Takes the lock of `dataDir`, creating the directory when missing. A stale lock (its pid does
 * not run) is taken over.
 * @throws DataDirLockedError when a live process holds the lock (this one included: a second
 *   store in the same process is refused as well).
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const directory = resolve(dataDir);
  await mkdir(directory, { recursive: true });
  const lockFile = join(directory, DATA_DIR_LOCK_FILE);
  const content = `${process.pid}\n`;

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await createExclusive(lockFile, content)) return heldLock(directory, lockFile, content);

    const found = await readLock(lockFile);
    if (found === undefined) continue; // released meanwhile: try again at once
    const pid = parsePid(found.content);
    if (pid !== null) {
      if (isRunning(pid)) throw new DataDirLockedError(directory, pid, lockFile);
      await removeStale(lockFile, found.content);
    } else if (Date.now() - found.modifiedAt > UNWRITTEN_LOCK_STALE_MS) {
      await removeStale(lockFile, found.content);
    } else {
      await sleep(RETRY_DELAY_MS); // its owner is still writing its pid
    }
  }
  throw new DataDirLockedError(directory, null, lockFile);
}

function heldLock(dataDir: string, lockFile: string, content: string): DataDirLock {
  let released: Promise<void> | undefined;
  return {
    dataDir,
    lockFile,
    release() {
      released ??= (async () => {
        const found = await readLock(lockFile);
        if (found?.content === content) await unlinkIfPresent(lockFile);
      })();
      return released;
    },
  };
}

/** Creates `path` holding `content`, unless it exists. @returns whether it was created. */
async function createExclusive(path: string, content: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, "wx");
  } catch (error) {
    if (errorCode(error) === "EEXIST") return false;
    throw error;
  }
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlinkIfPresent(path);
    throw error;
  }
  await handle.close();
  return true;
}

/** Content and modification time of the lock file; undefined when it does not exist. */
async function readLock(lockFile: string): Promise<{ content: string; modifiedAt: number } | undefined> {
  try {
    const [content, stats] = await Promise.all([readFile(lockFile, "utf8"), stat(lockFile)]);
    return { content, modifiedAt: stats.mtimeMs };
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Removes the lock file if it still holds `staleContent`, while holding the takeover file, so
 * that no other process removes a lock that was taken over meanwhile.
 */
async function removeStale(lockFile: string, staleContent: string): Promise<void> {
  const takeover = `${lockFile}.takeover`;
  if (!(await createExclusive(takeover, `${process.pid}\n`))) {
    const found = await readLock(takeover);
    if (found !== undefined && Date.now() - found.modifiedAt > TAKEOVER_STALE_MS) await unlinkIfPresent(takeover);
    else await sleep(RETRY_DELAY_MS);
    return;
  }
  try {
    const current = await readLock(lockFile);
    if (current?.content === staleContent) await unlinkIfPresent(lockFile);
  } finally {
    await unlinkIfPresent(takeover);
  }
}

/** The pid a lock file holds; null unless it is one positive integer (`kill(0)` would signal a group). */
function parsePid(content: string): number | null {
  const text = content.trim();
  if (!/^\d{1,10}$/.test(text)) return null;
  const pid = Number(text);
  return pid > 0 ? pid : null;
}

/** Whether a process with this pid runs: signal 0 checks without sending anything. EPERM: it runs, as another user. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) !== "ESRCH";
  }
}

async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
  }
}

function errorCode(error: unknown): unknown {
  return typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
}
