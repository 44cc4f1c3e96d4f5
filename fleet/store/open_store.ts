import type { FleetStore } from "./fleet_store.ts";
import { openPostgresStore } from "./open_postgres_store.ts";
import { openSqliteStore } from "./open_sqlite_store.ts";

/**
 * Opens the fleet store named by `db`: a `postgres://` or `postgresql://`
 * URL opens PostgreSQL, anything else is a SQLite file path.
 */
export async function openStore(db: string): Promise<FleetStore> {
  return /^postgres(ql)?:\/\//.test(db)
    ? await openPostgresStore(db)
    : await openSqliteStore(db);
}
