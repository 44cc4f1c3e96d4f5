import postgres from "postgres";
import type { FleetStore } from "./fleet_store.ts";
import type { _Row, _SqlDriver, _SqlExecutor } from "./_sql_driver.ts";
import { _SqlStore } from "./_sql_store.ts";

/** Options of {@linkcode openPostgresStore}. */
export interface OpenPostgresStoreOptions {
  /** Connections in the pool. Default 4. */
  maxConnections?: number;
  /** How long to wait for a connection. Default 10 s. */
  connectTimeoutS?: number;
}

/**
 * Opens the fleet store in the PostgreSQL database at `url`
 * (`postgres://user:password@host:5432/db`) and migrates it; several
 * consoles may share one database (migrations take an advisory lock).
 */
export async function openPostgresStore(
  url: string,
  options: OpenPostgresStoreOptions = {},
): Promise<FleetStore> {
  const sql = postgres(url, {
    max: options.maxConnections ?? 4,
    connect_timeout: options.connectTimeoutS ?? 10,
    onnotice: () => {},
    prepare: true,
  });
  try {
    await sql`SELECT 1`;
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw new Error(
      `Cannot open the PostgreSQL fleet store: ${(error as Error).message}: "${
        _redact(url)
      }"`,
      { cause: error },
    );
  }
  return await _SqlStore.open(new _PostgresDriver(sql));
}

/** `?` placeholders to `$1, $2, …` (the shared queries hold no `?` in literals). */
function _numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

function _redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}

type _Sql = postgres.Sql | postgres.TransactionSql;

function _all(sql: _Sql, text: string, params: readonly unknown[]) {
  return sql.unsafe(
    _numbered(text),
    params as postgres.ParameterOrJSON<never>[],
  ) as unknown as Promise<_Row[]>;
}

class _PostgresDriver implements _SqlDriver {
  readonly kind = "postgres";
  readonly migrationLock = "SELECT pg_advisory_xact_lock(7420061)";
  #sql: postgres.Sql;

  constructor(sql: postgres.Sql) {
    this.#sql = sql;
  }

  async all(text: string, params: readonly unknown[] = []): Promise<_Row[]> {
    return [...await _all(this.#sql, text, params)];
  }

  async transaction<T>(fn: (tx: _SqlExecutor) => Promise<T>): Promise<T> {
    return await this.#sql.begin((tx) =>
      fn({
        all: async (text, params = []) => [...await _all(tx, text, params)],
      })
    ) as T;
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}
