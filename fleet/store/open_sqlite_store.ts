import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { FleetStore } from "./fleet_store.ts";
import type { _Row, _SqlDriver, _SqlExecutor } from "./_sql_driver.ts";
import { _SqlStore } from "./_sql_store.ts";

/** Prepared statements kept per database. */
const _CACHED_STATEMENTS = 64;

/**
 * Opens (creating when missing) the fleet store in the SQLite file `path`
 * (`":memory:"` for a throwaway one), in WAL mode, and migrates it.
 *
 * @example
 * ```ts
 * import { openSqliteStore } from "./open_sqlite_store.ts";
 * await using store = await openSqliteStore(":memory:");
 * console.assert((await store.listRuns()).runs.length === 0);
 * ```
 */
export async function openSqliteStore(path: string): Promise<FleetStore> {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA busy_timeout = 5000");
  } catch (error) {
    throw new Error(
      `Cannot open the SQLite fleet store: ${
        (error as Error).message
      }: "${path}"`,
      { cause: error },
    );
  }
  return await _SqlStore.open(new _SqliteDriver(db));
}

class _SqliteDriver implements _SqlDriver {
  readonly kind = "sqlite";
  readonly migrationLock = null;
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  #queue: Promise<unknown> = Promise.resolve();
  #inTransaction = false;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      if (this.#statements.size >= _CACHED_STATEMENTS) {
        this.#statements.delete(this.#statements.keys().next().value!);
      }
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #all(sql: string, params: readonly unknown[]): _Row[] {
    return this.#statement(sql).all(
      ...params as (string | number | null)[],
    ) as _Row[];
  }

  all(sql: string, params: readonly unknown[] = []): Promise<_Row[]> {
    // Outside a transaction a statement waits for the running one to end,
    // so it never lands inside someone else's BEGIN … COMMIT.
    if (this.#inTransaction) {
      return this.#queue.then(() => this.#all(sql, params));
    }
    try {
      return Promise.resolve(this.#all(sql, params));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  transaction<T>(fn: (tx: _SqlExecutor) => Promise<T>): Promise<T> {
    const run = async () => {
      this.#inTransaction = true;
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn({
          all: (sql, params = []) => Promise.resolve(this.#all(sql, params)),
        });
        this.#db.exec("COMMIT");
        return result;
      } catch (error) {
        this.#db.exec("ROLLBACK");
        throw error;
      } finally {
        this.#inTransaction = false;
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  close(): Promise<void> {
    return this.#queue.then(() => {
      this.#statements.clear();
      this.#db.close();
    });
  }
}
