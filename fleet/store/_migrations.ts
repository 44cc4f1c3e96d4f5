/**
 * The schema, as numbered migrations in SQL that SQLite and PostgreSQL both
 * run unchanged. Never edit a migration that shipped: add the next one.
 */
export interface _Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

/** Every migration, in order. */
export const _MIGRATIONS: readonly _Migration[] = [
  {
    version: 1,
    name: "runs and robots",
    statements: [
      `CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        robot_id TEXT NOT NULL,
        program_id TEXT,
        program_version BIGINT,
        program_sha256 TEXT NOT NULL,
        outcome TEXT NOT NULL,
        label TEXT,
        failure_line INTEGER,
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL,
        started_ms BIGINT NOT NULL,
        started_day TEXT NOT NULL,
        received_ms BIGINT NOT NULL,
        record TEXT NOT NULL
      )`,
      // Newest first, overall and under each filter; run_id breaks ties (cursor).
      "CREATE INDEX runs_started ON runs (started_ms, run_id)",
      "CREATE INDEX runs_robot ON runs (robot_id, started_ms, run_id)",
      "CREATE INDEX runs_label ON runs (label, started_ms, run_id)",
      "CREATE INDEX runs_program ON runs (program_id, started_ms, run_id)",
      "CREATE INDEX runs_outcome ON runs (outcome, started_ms, run_id)",
      "CREATE INDEX runs_day ON runs (started_day, label)",
      `CREATE TABLE robots (
        robot_id TEXT PRIMARY KEY,
        status TEXT,
        last_seen_ms BIGINT,
        current_run_id TEXT,
        outbox_depth BIGINT,
        outbox_oldest_age_ms BIGINT,
        last_run_id TEXT,
        last_run_ms BIGINT,
        last_outcome TEXT,
        last_label TEXT,
        runs BIGINT NOT NULL DEFAULT 0
      )`,
    ],
  },
  {
    version: 2,
    name: "robot with outcome or label",
    statements: [
      // A robot's failures (by outcome or label) are the console's most
      // common two-filter query; without these a robot with none of them
      // scans every run with that outcome.
      "CREATE INDEX runs_robot_outcome ON runs (robot_id, outcome, started_ms, run_id)",
      "CREATE INDEX runs_robot_label ON runs (robot_id, label, started_ms, run_id)",
      // Stats group every matching run anyway; this index was never used.
      "DROP INDEX runs_day",
    ],
  },
  {
    version: 3,
    name: "robot gRPC endpoint",
    statements: [
      // From the heartbeat's `grpc`: where the console runs, resumes and
      // delivers repairs. The flags are 0/1 (SQLite has no boolean).
      "ALTER TABLE robots ADD COLUMN grpc_address TEXT",
      "ALTER TABLE robots ADD COLUMN grpc_tls INTEGER",
      "ALTER TABLE robots ADD COLUMN grpc_client_auth INTEGER",
    ],
  },
];
