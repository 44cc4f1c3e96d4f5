import type { EvidenceRecord } from "../../runtime/evidence/mod.ts";
import {
  type FleetStats,
  type FleetStore,
  type RobotRow,
  type RobotUpdate,
  type RunPage,
  type RunQuery,
  type RunSummary,
  type StatsQuery,
  type StoreCallOptions,
  StoreClosedError,
} from "./fleet_store.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { _MIGRATIONS } from "./_migrations.ts";
import type { _Row, _SqlDriver } from "./_sql_driver.ts";

/** Records per INSERT statement (14 parameters each). */
const _BATCH = 200;
const _RUN_COLUMNS =
  "run_id, robot_id, program_id, program_version, program_sha256, outcome, label, failure_line, started_at, ended_at, started_ms, started_day, received_ms, record";
const _SUMMARY_COLUMNS =
  "run_id, robot_id, program_id, program_version, outcome, label, failure_line, started_at, ended_at, started_ms";

/**
 * The fleet store over any {@linkcode _SqlDriver}: one schema, one set of
 * queries and migrations for SQLite and PostgreSQL.
 */
export class _SqlStore implements FleetStore {
  readonly kind: string;
  #driver: _SqlDriver;
  #closed = false;

  private constructor(driver: _SqlDriver) {
    this.#driver = driver;
    this.kind = driver.kind;
  }

  /** Opens the store over `driver` and brings its schema up to date. */
  static async open(driver: _SqlDriver): Promise<_SqlStore> {
    const store = new _SqlStore(driver);
    try {
      await store.#migrate();
    } catch (error) {
      await driver.close().catch(() => {});
      throw new Error(
        `Cannot open the ${driver.kind} fleet store: migration failed: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
    return store;
  }

  async #migrate(): Promise<void> {
    await this.#driver.all(
      "CREATE TABLE IF NOT EXISTS fleet_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    );
    for (const migration of _MIGRATIONS) {
      await this.#driver.transaction(async (tx) => {
        if (this.#driver.migrationLock !== null) {
          await tx.all(this.#driver.migrationLock);
        }
        const done = await tx.all(
          "SELECT version FROM fleet_migrations WHERE version = ?",
          [migration.version],
        );
        if (done.length > 0) return;
        for (const statement of migration.statements) await tx.all(statement);
        await tx.all(
          "INSERT INTO fleet_migrations (version, name, applied_at) VALUES (?, ?, ?)",
          [migration.version, migration.name, new Date().toISOString()],
        );
      });
    }
  }

  #check(options?: StoreCallOptions): void {
    if (this.#closed) throw new StoreClosedError(this.kind);
    options?.signal?.throwIfAborted();
  }

  async putRuns(
    records: readonly EvidenceRecord[],
    options?: StoreCallOptions,
  ): Promise<string[]> {
    this.#check(options);
    if (records.length === 0) return [];
    // The same run twice in one batch: keep the first.
    const unique = new Map<string, EvidenceRecord>();
    for (const r of records) if (!unique.has(r.runId)) unique.set(r.runId, r);
    const rows = [...unique.values()];
    const receivedMs = Date.now();
    return await this.#driver.transaction(async (tx) => {
      const stored: EvidenceRecord[] = [];
      for (let i = 0; i < rows.length; i += _BATCH) {
        const chunk = rows.slice(i, i + _BATCH);
        const params: unknown[] = [];
        for (const r of chunk) params.push(..._runParams(r, receivedMs));
        const values = chunk.map(() =>
          "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
          .join(", ");
        const inserted = await tx.all(
          `INSERT INTO runs (${_RUN_COLUMNS}) VALUES ${values} ON CONFLICT (run_id) DO NOTHING RETURNING run_id`,
          params,
        );
        const ids = new Set(inserted.map((row) => String(row.run_id)));
        for (const r of chunk) if (ids.has(r.runId)) stored.push(r);
      }
      // One robot-row update per robot: its newest new run, and the count.
      const perRobot = new Map<string, { newest: EvidenceRecord; n: number }>();
      for (const r of stored) {
        const entry = perRobot.get(r.robotId);
        if (entry === undefined) perRobot.set(r.robotId, { newest: r, n: 1 });
        else {
          entry.n++;
          if (_startedMs(r) >= _startedMs(entry.newest)) entry.newest = r;
        }
      }
      // One statement for every robot of the batch (one row each).
      if (perRobot.size > 0) {
        const params: unknown[] = [];
        for (const [robotId, { newest, n }] of perRobot) {
          params.push(
            robotId,
            receivedMs,
            newest.runId,
            _startedMs(newest),
            newest.outcome,
            newest.failure?.label ?? null,
            n,
          );
        }
        const values = [...perRobot.keys()].map(() => "(?, ?, ?, ?, ?, ?, ?)")
          .join(", ");
        await tx.all(
          `INSERT INTO robots (robot_id, last_seen_ms, last_run_id, last_run_ms, last_outcome, last_label, runs)
           VALUES ${values}
           ON CONFLICT (robot_id) DO UPDATE SET
             runs = robots.runs + excluded.runs,
             last_seen_ms = CASE WHEN robots.last_seen_ms IS NULL OR excluded.last_seen_ms > robots.last_seen_ms THEN excluded.last_seen_ms ELSE robots.last_seen_ms END,
             last_outcome = CASE WHEN robots.last_run_ms IS NULL OR excluded.last_run_ms >= robots.last_run_ms THEN excluded.last_outcome ELSE robots.last_outcome END,
             last_label = CASE WHEN robots.last_run_ms IS NULL OR excluded.last_run_ms >= robots.last_run_ms THEN excluded.last_label ELSE robots.last_label END,
             last_run_id = CASE WHEN robots.last_run_ms IS NULL OR excluded.last_run_ms >= robots.last_run_ms THEN excluded.last_run_id ELSE robots.last_run_id END,
             last_run_ms = CASE WHEN robots.last_run_ms IS NULL OR excluded.last_run_ms >= robots.last_run_ms THEN excluded.last_run_ms ELSE robots.last_run_ms END,
             current_run_id = CASE WHEN robots.current_run_id = excluded.last_run_id THEN NULL ELSE robots.current_run_id END`,
          params,
        );
      }
      return stored.map((r) => r.runId);
    });
  }

  async putRobot(
    update: RobotUpdate,
    options?: StoreCallOptions,
  ): Promise<void> {
    this.#check(options);
    if (update.kind === "status") {
      const clearRun = update.status === "online" ||
        update.status === "offline";
      await this.#driver.all(
        `INSERT INTO robots (robot_id, status, last_seen_ms) VALUES (?, ?, ?)
         ON CONFLICT (robot_id) DO UPDATE SET status = excluded.status,
           last_seen_ms = excluded.last_seen_ms${
          clearRun ? ", current_run_id = NULL" : ""
        }`,
        [update.robotId, update.status, update.atMs],
      );
      return;
    }
    // A heartbeat without `grpc` (grpc_tls NULL) keeps the announced endpoint.
    const grpc = update.grpc;
    await this.#driver.all(
      `INSERT INTO robots (robot_id, status, last_seen_ms, current_run_id, outbox_depth, outbox_oldest_age_ms, grpc_address, grpc_tls, grpc_client_auth)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (robot_id) DO UPDATE SET
         status = COALESCE(excluded.status, robots.status),
         last_seen_ms = excluded.last_seen_ms,
         current_run_id = excluded.current_run_id,
         outbox_depth = COALESCE(excluded.outbox_depth, robots.outbox_depth),
         outbox_oldest_age_ms = COALESCE(excluded.outbox_oldest_age_ms, robots.outbox_oldest_age_ms),
         grpc_address = CASE WHEN excluded.grpc_tls IS NULL THEN robots.grpc_address ELSE excluded.grpc_address END,
         grpc_tls = COALESCE(excluded.grpc_tls, robots.grpc_tls),
         grpc_client_auth = COALESCE(excluded.grpc_client_auth, robots.grpc_client_auth)`,
      [
        update.robotId,
        update.status,
        update.atMs,
        update.currentRunId,
        update.outboxDepth,
        update.outboxOldestAgeMs,
        grpc?.address ?? null,
        grpc === undefined ? null : grpc.tls ? 1 : 0,
        grpc === undefined ? null : grpc.clientAuth ? 1 : 0,
      ],
    );
  }

  async listRuns(
    query: RunQuery = {},
    options?: StoreCallOptions,
  ): Promise<RunPage> {
    this.#check(options);
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new RangeError(
        `Cannot list runs: limit must be an integer from 1 to 1000, got ${limit}`,
      );
    }
    const where: string[] = [];
    const params: unknown[] = [];
    const filter = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      params.push(value);
    };
    filter("robot_id", query.robot);
    filter("label", query.label);
    filter("program_id", query.program);
    filter("outcome", query.outcome);
    if (query.sinceMs !== undefined) {
      where.push("started_ms >= ?");
      params.push(query.sinceMs);
    }
    if (query.cursor !== undefined) {
      const [ms, runId] = decodeCursor(query.cursor);
      where.push("(started_ms < ? OR (started_ms = ? AND run_id < ?))");
      params.push(ms, ms, runId);
    }
    params.push(limit + 1);
    const rows = await this.#driver.all(
      `SELECT ${_SUMMARY_COLUMNS} FROM runs${
        where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`
      } ORDER BY started_ms DESC, run_id DESC LIMIT ?`,
      params,
    );
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      runs: page.map(_summary),
      nextCursor: more && last !== undefined
        ? encodeCursor(Number(last.started_ms), String(last.run_id))
        : null,
    };
  }

  async getRun(
    runId: string,
    options?: StoreCallOptions,
  ): Promise<EvidenceRecord | null> {
    this.#check(options);
    const rows = await this.#driver.all(
      "SELECT record FROM runs WHERE run_id = ?",
      [runId],
    );
    const row = rows[0];
    return row === undefined
      ? null
      : JSON.parse(String(row.record)) as EvidenceRecord;
  }

  async listRobots(options?: StoreCallOptions): Promise<RobotRow[]> {
    this.#check(options);
    const rows = await this.#driver.all(
      "SELECT * FROM robots ORDER BY robot_id",
    );
    return rows.map((r) => ({
      robotId: String(r.robot_id),
      status: _text(r.status),
      lastSeen: r.last_seen_ms === null || r.last_seen_ms === undefined
        ? null
        : new Date(Number(r.last_seen_ms)).toISOString(),
      currentRunId: _text(r.current_run_id),
      outboxDepth: _number(r.outbox_depth),
      outboxOldestAgeMs: _number(r.outbox_oldest_age_ms),
      lastRunId: _text(r.last_run_id),
      lastOutcome: _text(r.last_outcome),
      lastLabel: _text(r.last_label),
      runs: Number(r.runs ?? 0),
      grpc: r.grpc_tls === null || r.grpc_tls === undefined ? null : {
        address: _text(r.grpc_address),
        tls: Number(r.grpc_tls) === 1,
        clientAuth: Number(r.grpc_client_auth) === 1,
      },
    }));
  }

  async stats(
    query: StatsQuery = {},
    options?: StoreCallOptions,
  ): Promise<FleetStats> {
    this.#check(options);
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.robot !== undefined) {
      where.push("robot_id = ?");
      params.push(query.robot);
    }
    if (query.sinceMs !== undefined) {
      where.push("started_ms >= ?");
      params.push(query.sinceMs);
    }
    const rows = await this.#driver.all(
      `SELECT robot_id, started_day, outcome, label, COUNT(*) AS n FROM runs${
        where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`
      } GROUP BY robot_id, started_day, outcome, label`,
      params,
    );
    const stats: FleetStats = {
      total: 0,
      byOutcome: {},
      byLabel: {},
      perRobot: [],
      perDay: [],
    };
    const robots = new Map<string, FleetStats["perRobot"][number]>();
    const days = new Map<string, FleetStats["perDay"][number]>();
    const add = (counts: Record<string, number>, key: string, n: number) => {
      counts[key] = (counts[key] ?? 0) + n;
    };
    for (const row of rows) {
      const n = Number(row.n);
      const robotId = String(row.robot_id);
      const day = String(row.started_day);
      const outcome = String(row.outcome);
      const label = _text(row.label);
      stats.total += n;
      add(stats.byOutcome, outcome, n);
      let robot = robots.get(robotId);
      if (robot === undefined) {
        robot = { robotId, runs: 0, byOutcome: {}, byLabel: {} };
        robots.set(robotId, robot);
      }
      robot.runs += n;
      add(robot.byOutcome, outcome, n);
      let perDay = days.get(day);
      if (perDay === undefined) {
        perDay = { day, runs: 0, byLabel: {} };
        days.set(day, perDay);
      }
      perDay.runs += n;
      if (label !== null) {
        add(stats.byLabel, label, n);
        add(robot.byLabel, label, n);
        add(perDay.byLabel, label, n);
      }
    }
    stats.perRobot = [...robots.values()].sort((a, b) =>
      a.robotId < b.robotId ? -1 : a.robotId > b.robotId ? 1 : 0
    );
    stats.perDay = [...days.values()].sort((a, b) =>
      a.day < b.day ? -1 : a.day > b.day ? 1 : 0
    );
    return stats;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#driver.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function _startedMs(r: EvidenceRecord): number {
  const ms = Date.parse(r.startedAt);
  return Number.isFinite(ms) ? ms : 0;
}

function _runParams(r: EvidenceRecord, receivedMs: number): unknown[] {
  const ms = _startedMs(r);
  return [
    r.runId,
    r.robotId,
    r.program?.programId ?? null,
    r.program?.version ?? null,
    r.program?.sha256 ?? "",
    r.outcome,
    r.failure?.label ?? null,
    r.failure?.line ?? null,
    r.startedAt,
    r.endedAt,
    ms,
    new Date(ms).toISOString().slice(0, 10),
    receivedMs,
    JSON.stringify(r),
  ];
}

function _summary(row: _Row): RunSummary {
  return {
    runId: String(row.run_id),
    robotId: String(row.robot_id),
    programId: _text(row.program_id),
    version: _number(row.program_version),
    outcome: String(row.outcome),
    label: _text(row.label),
    line: _number(row.failure_line),
    startedAt: String(row.started_at),
    endedAt: String(row.ended_at),
  };
}

function _text(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

function _number(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}
