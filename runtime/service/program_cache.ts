import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { EvidenceRecord, FailureLabel } from "../evidence/mod.ts";
import { StoreClosedError } from "./store_closed_error.ts";

/** Which runs {@linkcode ProgramCache.prototype.listRuns} returns. */
export interface RunFilter {
  /** Only runs whose failure has this label. */
  label?: string;
  /** Only runs of this program. */
  programId?: string;
  /** Only runs with this outcome. */
  outcome?: string;
  /** Only runs started at or after this time (ISO 8601, UTC). */
  since?: string;
  /** Page size, 1-500; default 50. */
  limit?: number;
  /** The `next` cursor of the previous page. */
  before?: number;
}

/** One run as listed: what the record says, without the record. */
export interface RunSummary {
  /** The run's id. */
  runId: string;
  /** The program's id; `null` for an unsigned or unreadable one. */
  programId: string | null;
  /** The program's version; `null` when it has none. */
  version: number | null;
  /** `succeeded`, `failed`, `rejected` or `stopped`. */
  outcome: EvidenceRecord["outcome"];
  /** The failure label; `null` when the run succeeded. */
  label: FailureLabel | null;
  /** ISO 8601 */
  startedAt: string;
  /** ISO 8601 */
  endedAt: string;
  /** How many skill calls the record holds. */
  skillCalls: number;
}

/** A page of runs, newest first, and the cursor of the next page. */
export interface RunPage {
  /** The runs, newest first. */
  runs: RunSummary[];
  /** Pass as `before` for the next page; `null` on the last page. */
  next: number | null;
}

/** A program the robot accepted, as the cache keeps it. */
export interface CachedProgram {
  /** The program's id. */
  programId: string;
  /** Its version. */
  version: number;
  /** SHA-256 (hex) of the manifest payload: the cache's content address. */
  payloadSha256: string;
  /** SHA-256 (hex) of the source. */
  sourceSha256: string;
  /** The key that signed it. */
  keyId: string;
  /** The instruction it was written for. */
  instruction: string | null;
  /** When the robot accepted it, ISO 8601. */
  acceptedAt: string;
  /** When its manifest expires, ISO 8601. */
  expiresAt: string;
  /** The whole envelope as delivered, so that it can be re-checked on load. */
  envelope: string;
}

/** How many records of refused deliveries the local store keeps (at most `evidenceRetention`). */
const REJECTED_RETAINED = 100;

/**
 * The robot's durable state in SQLite: accepted programs (content-addressed
 * by payload hash, kept as their signed envelopes so that they are re-checked
 * whenever they are loaded) and the newest evidence records (the local
 * evidence store). The replay state lives apart, in `ReplayState`; the
 * cache's own `replay` table is only a copy that re-seeds a lost one.
 */
export class ProgramCache implements Disposable {
  /** The database file. */
  readonly path: string;
  #db: DatabaseSync | null;
  #put: StatementSync;
  #getLatest: StatementSync;
  #getVersion: StatementSync;
  #list: StatementSync;
  #getReplay: StatementSync;
  #putReplay: StatementSync;
  #putEvidence: StatementSync;
  #putEvidenceOnce: StatementSync;
  #trimRuns: StatementSync;
  #trimRejected: StatementSync;
  #listEvidence: StatementSync;
  #evidenceRetention: number;

  private constructor(
    path: string,
    db: DatabaseSync,
    evidenceRetention: number,
  ) {
    this.path = path;
    this.#db = db;
    this.#evidenceRetention = evidenceRetention;
    this.#put = db.prepare(`INSERT OR IGNORE INTO programs
      (payload_sha256, program_id, version, source_sha256, key_id, instruction, accepted_at, expires_at, envelope)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#getLatest = db.prepare(
      "SELECT * FROM programs WHERE program_id = ? ORDER BY version DESC LIMIT 1",
    );
    this.#getVersion = db.prepare(
      "SELECT * FROM programs WHERE program_id = ? AND version = ? LIMIT 1",
    );
    this.#list = db.prepare(
      `SELECT p.* FROM programs p JOIN (SELECT program_id, max(version) AS v FROM programs GROUP BY program_id) m
       ON p.program_id = m.program_id AND p.version = m.v ORDER BY p.program_id`,
    );
    this.#getReplay = db.prepare(
      "SELECT version, payload_sha256 FROM replay WHERE program_id = ?",
    );
    this.#putReplay = db.prepare(
      `INSERT INTO replay (program_id, version, payload_sha256) VALUES (?, ?, ?)
      ON CONFLICT(program_id) DO UPDATE SET version = excluded.version, payload_sha256 = excluded.payload_sha256
      WHERE excluded.version > replay.version`,
    );
    this.#putEvidence = db.prepare(
      "INSERT INTO evidence (run_id, program_id, outcome, ended_at, record) VALUES (?, ?, ?, ?, ?)",
    );
    // The journal's recovery after a crash keeps again a record whose
    // keeping it could not mark done: stored already, it is not stored twice.
    this.#putEvidenceOnce = db.prepare(
      `INSERT INTO evidence (run_id, program_id, outcome, ended_at, record)
        SELECT ?1, ?2, ?3, ?4, ?5
        WHERE NOT EXISTS (SELECT 1 FROM evidence WHERE run_id = ?1)`,
    );
    // Refused deliveries are trimmed apart from runs: anyone who reaches
    // the port can make refused ones, and they must not push out the
    // records of runs that moved the robot.
    this.#trimRuns = db.prepare(
      `DELETE FROM evidence WHERE outcome != 'rejected' AND seq <= (SELECT seq
        FROM evidence WHERE outcome != 'rejected' ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
    );
    this.#trimRejected = db.prepare(
      `DELETE FROM evidence WHERE outcome = 'rejected' AND seq <= (SELECT seq
        FROM evidence WHERE outcome = 'rejected' ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
    );
    this.#listEvidence = db.prepare(
      "SELECT record FROM evidence ORDER BY seq DESC LIMIT ?",
    );
  }

  /** Opens (creating if needed) the cache database at `path`. */
  static open(
    path: string,
    options: { evidenceRetention?: number } = {},
  ): ProgramCache {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (error) {
      throw new Error(
        `Cannot open the program cache "${path}": ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    try {
      db.exec("PRAGMA journal_mode=WAL");
      // WAL with NORMAL: a commit survives a crash or kill -9 of the
      // process; only a power cut can lose the last commits (SQLite syncs
      // at checkpoints). The fsync of FULL would block the service's event
      // loop for milliseconds on every run (it sits on the stop path); the
      // outbox, not this store, is the fleet's durable copy of evidence.
      db.exec("PRAGMA synchronous=NORMAL");
      db.exec("PRAGMA busy_timeout=5000");
      const rows = db.prepare("PRAGMA quick_check").all() as Array<
        Record<string, unknown>
      >;
      const check = rows[0] ? String(Object.values(rows[0])[0]) : "no answer";
      if (check !== "ok") {
        throw new Error(`the integrity check failed: ${check}`);
      }
      db.exec(`CREATE TABLE IF NOT EXISTS programs (
        payload_sha256 TEXT PRIMARY KEY,
        program_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        source_sha256 TEXT NOT NULL,
        key_id TEXT NOT NULL,
        instruction TEXT,
        accepted_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        envelope TEXT NOT NULL
      )`);
      db.exec(
        "CREATE INDEX IF NOT EXISTS programs_by_id ON programs (program_id, version)",
      );
      db.exec(`CREATE TABLE IF NOT EXISTS replay (
        program_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        payload_sha256 TEXT NOT NULL
      )`);
      db.exec(`CREATE TABLE IF NOT EXISTS evidence (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        program_id TEXT,
        outcome TEXT NOT NULL,
        ended_at TEXT NOT NULL,
        record TEXT NOT NULL
      )`);

      // Read every row once: a cache whose rows cannot be read is unusable.
      db.prepare("SELECT count(*), sum(length(envelope)) FROM programs").get();
      db.prepare("SELECT count(*), sum(length(record)) FROM evidence").get();

      return new ProgramCache(path, db, options.evidenceRetention ?? 1000);
    } catch (error) {
      db.close();
      throw new Error(
        `Cannot open the program cache "${path}": ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  /**
   * Stores an accepted program and advances the replay state in one
   * transaction. Storing the same payload again changes nothing.
   */
  accept(program: CachedProgram): void {
    const db = this.#open();
    db.exec("BEGIN IMMEDIATE");
    try {
      this.#put.run(
        program.payloadSha256,
        program.programId,
        program.version,
        program.sourceSha256,
        program.keyId,
        program.instruction,
        program.acceptedAt,
        program.expiresAt,
        program.envelope,
      );
      this.#putReplay.run(
        program.programId,
        program.version,
        program.payloadSha256,
      );
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  /** The last accepted version of `programId` (the replay state), if any. */
  lastAccepted(
    programId: string,
  ): { version: number; payloadSha256: string } | undefined {
    this.#open();
    const row = this.#getReplay.get(programId) as
      | { version: number; payload_sha256: string }
      | undefined;
    return row
      ? { version: Number(row.version), payloadSha256: row.payload_sha256 }
      : undefined;
  }

  /**
   * Every program's last accepted version as this cache saw it: used only
   * to re-seed a replay state that was lost (the replay state lives in its
   * own file, `ReplayState`).
   */
  acceptedVersions(): Array<
    { programId: string; version: number; payloadSha256: string }
  > {
    this.#open();
    return this.#db!.prepare(
      "SELECT program_id, version, payload_sha256 FROM replay ORDER BY program_id",
    ).all().map((row) => {
      const r = row as {
        program_id: string;
        version: number;
        payload_sha256: string;
      };
      return {
        programId: r.program_id,
        version: Number(r.version),
        payloadSha256: r.payload_sha256,
      };
    });
  }

  /** A cached program: the newest version, or the one asked for. */
  get(programId: string, version?: number): CachedProgram | undefined {
    this.#open();
    const row = version === undefined || version === 0
      ? this.#getLatest.get(programId)
      : this.#getVersion.get(programId, version);
    return row ? rowToProgram(row as Record<string, unknown>) : undefined;
  }

  /** The newest version of every cached program. */
  list(): CachedProgram[] {
    this.#open();
    return this.#list.all().map((row) =>
      rowToProgram(row as Record<string, unknown>)
    );
  }

  /**
   * Keeps an evidence record locally: the newest `evidenceRetention`
   * records of runs, and apart from them the newest 100 (at most
   * `evidenceRetention`) of refused deliveries (outcome `rejected`), so
   * that a flood of refused ones never pushes out a run's record. With
   * `once`, a record of a run already stored is not stored again (the
   * journal's recovery asks so; a run's end does not pay for the lookup).
   */
  recordEvidence(
    evidence: EvidenceRecord,
    options: { once?: boolean } = {},
  ): void {
    const db = this.#open();
    // One transaction: one fsync per record instead of two.
    db.exec("BEGIN IMMEDIATE");
    try {
      (options.once ? this.#putEvidenceOnce : this.#putEvidence).run(
        evidence.runId,
        evidence.program.programId,
        evidence.outcome,
        evidence.endedAt,
        JSON.stringify(evidence),
      );
      if (evidence.outcome === "rejected") {
        this.#trimRejected.run(
          Math.min(this.#evidenceRetention, REJECTED_RETAINED),
        );
      } else this.#trimRuns.run(this.#evidenceRetention);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  /** The newest evidence records, newest first. */
  recentEvidence(limit = 20): EvidenceRecord[] {
    this.#open();
    return this.#listEvidence.all(limit).map((row) =>
      JSON.parse(String((row as { record: string }).record)) as EvidenceRecord
    );
  }

  /**
   * Runs in the local evidence store, newest first, filtered and paged:
   * `before` is the `next` cursor of the previous page.
   */
  listRuns(filter: RunFilter = {}): RunPage {
    const db = this.#open();
    const limit = Math.min(Math.max(Math.trunc(filter.limit ?? 50), 1), 500);
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.label !== undefined) {
      where.push("json_extract(record, '$.failure.label') = ?");
      params.push(filter.label);
    }
    if (filter.programId !== undefined) {
      where.push("program_id = ?");
      params.push(filter.programId);
    }
    if (filter.outcome !== undefined) {
      where.push("outcome = ?");
      params.push(filter.outcome);
    }
    if (filter.since !== undefined) {
      where.push("json_extract(record, '$.startedAt') >= ?");
      params.push(filter.since);
    }
    if (filter.before !== undefined) {
      where.push("seq < ?");
      params.push(filter.before);
    }
    const rows = db.prepare(
      `SELECT seq, run_id, program_id, outcome,
        json_extract(record, '$.program.version') AS version,
        json_extract(record, '$.failure.label') AS label,
        json_extract(record, '$.startedAt') AS started_at, ended_at,
        json_array_length(record, '$.calls') AS calls
      FROM evidence ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY seq DESC LIMIT ?`,
    ).all(...params, limit + 1) as Record<string, unknown>[];
    const page = rows.slice(0, limit);
    return {
      runs: page.map((r) => ({
        runId: String(r.run_id),
        programId: r.program_id === null ? null : String(r.program_id),
        version: r.version === null ? null : Number(r.version),
        outcome: String(r.outcome) as RunSummary["outcome"],
        label: r.label === null ? null : String(r.label) as FailureLabel,
        startedAt: String(r.started_at ?? ""),
        endedAt: String(r.ended_at),
        skillCalls: Number(r.calls ?? 0),
      })),
      next: rows.length > limit ? Number(page.at(-1)!.seq) : null,
    };
  }

  /** One run's evidence record from the local store, or `undefined`. */
  getEvidence(runId: string): EvidenceRecord | undefined {
    const db = this.#open();
    const row = db.prepare(
      "SELECT record FROM evidence WHERE run_id = ? ORDER BY seq DESC LIMIT 1",
    ).get(runId) as { record: string } | undefined;
    return row === undefined
      ? undefined
      : JSON.parse(String(row.record)) as EvidenceRecord;
  }

  /** Closes the database. */
  close(): void {
    this.#db?.close();
    this.#db = null;
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #open(): DatabaseSync {
    if (this.#db === null) {
      throw new StoreClosedError("the program cache", this.path);
    }
    return this.#db;
  }
}

function rowToProgram(row: Record<string, unknown>): CachedProgram {
  return {
    programId: String(row.program_id),
    version: Number(row.version),
    payloadSha256: String(row.payload_sha256),
    sourceSha256: String(row.source_sha256),
    keyId: String(row.key_id),
    instruction: row.instruction === null ? null : String(row.instruction),
    acceptedAt: String(row.accepted_at),
    expiresAt: String(row.expires_at),
    envelope: String(row.envelope),
  };
}
