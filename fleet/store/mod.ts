/**
 * The fleet's evidence store: SQLite (embedded default) or PostgreSQL, one
 * schema, one set of queries and migrations.
 * @module
 */
export * from "./fleet_store.ts";
export { openSqliteStore } from "./open_sqlite_store.ts";
export {
  openPostgresStore,
  type OpenPostgresStoreOptions,
} from "./open_postgres_store.ts";
export { openStore } from "./open_store.ts";
export { decodeCursor, encodeCursor } from "./cursor.ts";
