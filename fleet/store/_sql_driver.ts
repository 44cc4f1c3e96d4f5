/** A row as the driver returns it: column name → value. */
export type _Row = Record<string, unknown>;

/** What {@linkcode _SqlDriver.transaction} hands its callback. */
export interface _SqlExecutor {
  /** Runs one statement with `?` placeholders; resolves with its rows. */
  all(sql: string, params?: readonly unknown[]): Promise<_Row[]>;
}

/**
 * The little the shared store needs from a database: statements with `?`
 * placeholders, and transactions.
 */
export interface _SqlDriver extends _SqlExecutor {
  readonly kind: string;
  /** Runs `fn` in one transaction (serialised with the driver's others). */
  transaction<T>(fn: (tx: _SqlExecutor) => Promise<T>): Promise<T>;
  /** A statement that, run first in the migration transaction, keeps other consoles out of it. */
  readonly migrationLock: string | null;
  close(): Promise<void>;
}
