import { DatabaseSync } from "node:sqlite";

/**
 * Thrown when another process holds a state directory: two cores on one
 * directory would each take the other's running program for one a crash
 * left, and record it twice.
 */
export class StateDirInUseError extends Error {
  /** The state directory. */
  readonly stateDir: string;
  /** Creates the error naming the directory. */
  constructor(stateDir: string) {
    super(
      `Cannot use the state directory "${stateDir}": another cap-edge process holds it (its lock.sqlite is locked); stop that one first, or give this one a stateDir of its own`,
    );
    this.name = "StateDirInUseError";
    this.stateDir = stateDir;
  }
}

/**
 * The exclusive hold of a state directory for this process's life: an
 * SQLite file in it kept locked (`locking_mode=EXCLUSIVE`), which the
 * operating system lets go when the process ends, however it ends. A
 * second holder, in this process or another, is refused at once.
 *
 * ```ts ignore
 * using lock = StateDirLock.take("/var/lib/cap-edge");
 * ```
 */
export class StateDirLock implements Disposable {
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * Takes the hold of `stateDir` (which must exist).
   * @throws {StateDirInUseError} when another holds it.
   */
  static take(stateDir: string): StateDirLock {
    const path = `${stateDir}/lock.sqlite`;
    try {
      return new StateDirLock(StateDirLock.#lock(path));
    } catch (error) {
      if (/locked|busy/i.test((error as Error).message)) {
        throw new StateDirInUseError(stateDir);
      }
      // Not a database (a disk fault): it holds nothing worth keeping.
      Deno.removeSync(path, { recursive: true });
      return new StateDirLock(StateDirLock.#lock(path));
    }
  }

  static #lock(path: string): DatabaseSync {
    const db = new DatabaseSync(path);
    try {
      db.exec("PRAGMA busy_timeout=0");
      db.exec("PRAGMA locking_mode=EXCLUSIVE");
      // The first write takes the exclusive lock; the mode keeps it.
      db.exec("BEGIN EXCLUSIVE");
      db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER, since TEXT)");
      db.exec("DELETE FROM holder");
      db.prepare("INSERT INTO holder VALUES (?, ?)").run(
        Deno.pid,
        new Date().toISOString(),
      );
      db.exec("COMMIT");
      return db;
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Lets the directory go. */
  [Symbol.dispose](): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
