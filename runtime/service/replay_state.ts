import { DatabaseSync, type StatementSync } from "node:sqlite";
import { StoreClosedError } from "./store_closed_error.ts";

/** The last accepted version of a program (what a re-delivery is checked against). */
export interface AcceptedVersion {
  /** The version. */
  version: number;
  /** SHA-256 (hex) of its manifest payload (a byte-identical re-delivery is idempotent). */
  payloadSha256: string;
}

/** Options of {@linkcode ReplayState.open}. */
export interface ReplayStateOptions {
  /** Clock in epoch milliseconds (nonce expiry). Default `Date.now`. */
  now?: () => number;
}

/**
 * The robot's replay protection, in its own SQLite file apart from the
 * program cache (a corrupt cache does not reset it): the last accepted
 * version per `programId`, and the nonces of operator commands, each kept
 * until it expires. Every write is one transaction with
 * `synchronous=FULL`: atomic, and on the disk when the call returns.
 *
 * @example
 * ```ts
 * import { ReplayState } from "./replay_state.ts";
 * using replay = ReplayState.open(":memory:");
 * const expiresAt = new Date(Date.now() + 60_000).toISOString();
 * if (replay.seenNonce("n1", expiresAt)) throw new Error("fresh nonce seen");
 * if (!replay.seenNonce("n1", expiresAt)) throw new Error("replay not seen");
 * ```
 */
export class ReplayState implements Disposable {
  /** The database file. */
  readonly path: string;
  /** True when this open created the replay state (the file was new, empty, or set aside). */
  readonly fresh: boolean;
  #db: DatabaseSync | null;
  #now: () => number;
  #getVersion: StatementSync;
  #putVersion: StatementSync;
  #getNonce: StatementSync;
  #putNonce: StatementSync;
  #purgeNonces: StatementSync;
  #writes = 0;

  private constructor(
    path: string,
    db: DatabaseSync,
    options: ReplayStateOptions,
  ) {
    this.path = path;
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#getVersion = db.prepare(
      "SELECT version, payload_sha256 FROM versions WHERE program_id = ?",
    );
    this.#putVersion = db.prepare(
      `INSERT INTO versions (program_id, version, payload_sha256) VALUES (?, ?, ?)
      ON CONFLICT(program_id) DO UPDATE SET version = excluded.version, payload_sha256 = excluded.payload_sha256
      WHERE excluded.version > versions.version`,
    );
    this.#getNonce = db.prepare(
      "SELECT expires_ms FROM nonces WHERE nonce = ?",
    );
    this.#putNonce = db.prepare(
      "INSERT OR REPLACE INTO nonces (nonce, expires_ms) VALUES (?, ?)",
    );
    this.#purgeNonces = db.prepare("DELETE FROM nonces WHERE expires_ms < ?");
    const created = db.prepare("SELECT created_at FROM meta LIMIT 1").get();
    this.fresh = created === undefined;
    if (this.fresh) {
      db.prepare("INSERT INTO meta (created_at) VALUES (?)").run(
        new Date(this.#now()).toISOString(),
      );
    }
  }

  /**
   * Opens (creating if needed) the replay state at `path`.
   * @throws {Error} when the file is not a readable replay database (the caller sets it aside).
   */
  static open(path: string, options: ReplayStateOptions = {}): ReplayState {
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (error) {
      throw new Error(
        `Cannot open the replay state "${path}": ${(error as Error).message}`,
        { cause: error },
      );
    }
    try {
      db.exec("PRAGMA journal_mode=WAL");
      db.exec("PRAGMA synchronous=FULL");
      db.exec("PRAGMA busy_timeout=5000");
      _quickCheck(db);
      db.exec(`CREATE TABLE IF NOT EXISTS versions (
        program_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        payload_sha256 TEXT NOT NULL
      )`);
      db.exec("CREATE TABLE IF NOT EXISTS meta (created_at TEXT NOT NULL)");
      db.exec(`CREATE TABLE IF NOT EXISTS nonces (
        nonce TEXT PRIMARY KEY,
        expires_ms INTEGER NOT NULL
      )`);
      return new ReplayState(path, db, options);
    } catch (error) {
      db.close();
      throw new Error(
        `Cannot open the replay state "${path}": ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** The last accepted version of `programId`, if any. */
  lastAccepted(programId: string): AcceptedVersion | undefined {
    this.#open();
    const row = this.#getVersion.get(programId) as
      | { version: number; payload_sha256: string }
      | undefined;
    return row
      ? { version: Number(row.version), payloadSha256: row.payload_sha256 }
      : undefined;
  }

  /** Records an accepted version; only ever raises the version of a program. */
  accept(programId: string, accepted: AcceptedVersion): void {
    this.#open();
    this.#putVersion.run(programId, accepted.version, accepted.payloadSha256);
  }

  /**
   * Whether the operator-command nonce was seen before; when it was not, it
   * is recorded (durably, until `expiresAt`) before this returns false.
   * @throws {RangeError} when `expiresAt` is not a date.
   */
  seenNonce(nonce: string, expiresAt: string | number | Date): boolean {
    const db = this.#open();
    const expiresMs = typeof expiresAt === "number"
      ? expiresAt
      : new Date(expiresAt).getTime();
    if (!Number.isFinite(expiresMs)) {
      throw new RangeError(
        `Cannot record nonce "${nonce}": expiresAt is not a date: ${
          String(expiresAt)
        }`,
      );
    }
    const row = this.#getNonce.get(nonce) as { expires_ms: number } | undefined;
    if (row !== undefined && Number(row.expires_ms) >= this.#now()) return true;
    db.exec("BEGIN IMMEDIATE");
    try {
      this.#putNonce.run(nonce, expiresMs);
      // Expired nonces are refused by their time window anyway.
      if (++this.#writes % 64 === 0) this.#purgeNonces.run(this.#now());
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
    return false;
  }

  /** Closes the database; idempotent. */
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
      throw new StoreClosedError("the replay state", this.path);
    }
    return this.#db;
  }
}

function _quickCheck(db: DatabaseSync): void {
  const rows = db.prepare("PRAGMA quick_check").all() as Array<
    Record<string, unknown>
  >;
  const first = rows[0] ? String(Object.values(rows[0])[0]) : "no answer";
  if (first !== "ok") {
    throw new Error(`the integrity check failed: ${first}`);
  }
}
