/** A state file that could not be used and was renamed out of the way. */
export interface SetAsideFile {
  /** What the file holds, e.g. `"program cache"`. */
  what: string;
  /** The path the service opens. */
  path: string;
  /** Where the unusable file now is; `null` when it could not be moved (the service then runs on an in-memory one). */
  movedTo: string | null;
  /** Why it could not be used. */
  reason: string;
  /** When it was set aside, ISO 8601. */
  at: string;
}

/** Options of {@linkcode openStateFile}. */
export interface OpenStateFileOptions {
  /** What the file holds, for the log and the report, e.g. `"outbox"`. */
  what: string;
  /** Where the set-aside is reported. */
  log?: (
    level: "warn" | "error",
    message: string,
    data?: Record<string, unknown>,
  ) => void;
  /** The clock; default `() => new Date()`. */
  now?: () => Date;
}

/**
 * Opens a state file with `open`; when that fails (corrupt, truncated, not
 * a database, unreadable), the file (and its SQLite `-wal`/`-shm`
 * companions) is renamed to `<path>.corrupt-<timestamp>`, the fact is
 * logged, and `open` is called again on a fresh file. When the file cannot
 * even be moved, the state is opened in memory (`":memory:"`) so that the
 * robot still starts: the report says so. A file that opens is never
 * touched.
 *
 * @example
 * ```ts
 * import { openStateFile } from "./open_state_file.ts";
 * const { value, setAside } = openStateFile(":memory:", (p) => p, { what: "x" });
 * if (value !== ":memory:" || setAside !== null) throw new Error("opened");
 * ```
 */
export function openStateFile<T>(
  path: string,
  open: (path: string) => T,
  options: OpenStateFileOptions,
): { value: T; setAside: SetAsideFile | null } {
  let reason: string;
  try {
    return { value: open(path), setAside: null };
  } catch (error) {
    reason = (error as Error).message;
  }
  const now = (options.now ?? (() => new Date()))();
  const at = now.toISOString();
  const movedTo = `${path}.corrupt-${at.replaceAll(":", "-")}`;
  let moved: string | null = movedTo;
  try {
    Deno.renameSync(path, movedTo);
    for (const suffix of ["-wal", "-shm", "-journal"]) {
      try {
        Deno.renameSync(`${path}${suffix}`, `${movedTo}${suffix}`);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  } catch (error) {
    reason += `; cannot move it: ${(error as Error).message}`;
    moved = null;
  }
  const setAside: SetAsideFile = {
    what: options.what,
    path,
    movedTo: moved,
    reason,
    at,
  };
  if (moved !== null) {
    options.log?.(
      "error",
      `set aside the ${options.what} "${path}" as "${moved}": ${reason}; starting with a fresh one`,
      { setAside },
    );
    try {
      return { value: open(path), setAside };
    } catch (error) {
      setAside.reason += `; a fresh one failed too: ${
        (error as Error).message
      }`;
    }
  }
  options.log?.(
    "error",
    `cannot use the ${options.what} "${path}": ${setAside.reason}; running on an in-memory one until the file is fixed`,
    { setAside },
  );
  return { value: open(":memory:"), setAside };
}
