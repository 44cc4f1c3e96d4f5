import { DatabaseSync, type StatementSync } from "node:sqlite";
import type {
  CallRecord,
  EvidenceRecord,
  RecordStart,
} from "../evidence/mod.ts";
import { StoreClosedError } from "./store_closed_error.ts";

/** Default {@linkcode EvidenceJournalOptions.flushMs}. */
const _DEFAULT_FLUSH_MS = 5;
/** Most milliseconds between a journaled batch and its fsync. */
const _SYNC_INTERVAL_MS = 1_000;

/** Options of {@linkcode EvidenceJournal.open}. */
export interface EvidenceJournalOptions {
  /** Most milliseconds a journaled call waits in memory before its batch is written. Default 5. */
  flushMs?: number;
}

/** A run the journal holds: begun, with the calls so far, and its final record once written. */
export interface JournalEntry {
  /** What was known when the run started. */
  start: RecordStart;
  /** In `seq` order; a call that had started but not ended has `ok: false` and no `durationMs`. */
  calls: CallRecord[];
  /** The finished (bounded) record, when the run ended but was not yet forgotten. */
  final: EvidenceRecord | null;
}

/**
 * The write-ahead evidence journal, in SQLite (WAL, `synchronous=NORMAL`:
 * every commit survives a crash or `kill -9` of the process).
 *
 * - {@linkcode EvidenceJournal.begin} writes the run's start (program,
 *   verifier, world before) and fsyncs it before it returns: the run
 *   survives a power cut too.
 * - {@linkcode EvidenceJournal.call} queues a call (started or ended) and
 *   writes the queue in one transaction at most `flushMs` later: a crash
 *   loses at most the calls of those last milliseconds, never the run; the
 *   batches are fsync'ed within a second (a power cut loses at most that).
 * - {@linkcode EvidenceJournal.finish} writes the final record before it
 *   returns (then the caller hands it to the outbox and the local store);
 *   {@linkcode EvidenceJournal.forget} drops the run in the next batch.
 *
 * On start, {@linkcode EvidenceJournal.unfinished} lists what a crash left:
 * runs without a final record (to be finished as `interrupted`) and final
 * records not yet forgotten (to be sent again: at-least-once, same record).
 */
export class EvidenceJournal implements Disposable {
  /** The database file. */
  readonly path: string;
  #db: DatabaseSync | null;
  #flushMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #syncTimer: ReturnType<typeof setTimeout> | undefined;
  #pendingCalls: Array<{ runId: string; call: CallRecord }> = [];
  #pendingForget: string[] = [];
  #begin: StatementSync;
  #putCall: StatementSync;
  #putFinal: StatementSync;
  #forgetRun: StatementSync;
  #forgetCalls: StatementSync;

  private constructor(path: string, db: DatabaseSync, flushMs: number) {
    this.path = path;
    this.#db = db;
    this.#flushMs = flushMs;
    this.#begin = db.prepare(
      "INSERT OR REPLACE INTO runs (run_id, start, final) VALUES (?, ?, NULL)",
    );
    this.#putCall = db.prepare(
      "INSERT OR REPLACE INTO calls (run_id, seq, call) VALUES (?, ?, ?)",
    );
    this.#putFinal = db.prepare(
      "INSERT INTO runs (run_id, start, final) VALUES (?, '{}', ?) ON CONFLICT(run_id) DO UPDATE SET final = excluded.final",
    );
    this.#forgetRun = db.prepare("DELETE FROM runs WHERE run_id = ?");
    this.#forgetCalls = db.prepare("DELETE FROM calls WHERE run_id = ?");
  }

  /**
   * Opens (creating if needed) the journal at `path`.
   * @throws {Error} when the file is not a readable journal (the caller sets it aside).
   */
  static open(
    path: string,
    options: EvidenceJournalOptions = {},
  ): EvidenceJournal {
    const flushMs = options.flushMs ?? _DEFAULT_FLUSH_MS;
    if (!(Number.isInteger(flushMs) && flushMs >= 0)) {
      throw new RangeError(
        `Cannot open the evidence journal "${path}": flushMs must be a non-negative integer, got ${flushMs}`,
      );
    }
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (error) {
      throw new Error(
        `Cannot open the evidence journal "${path}": ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
    try {
      db.exec("PRAGMA journal_mode=WAL");
      db.exec("PRAGMA synchronous=NORMAL");
      db.exec("PRAGMA busy_timeout=5000");
      const rows = db.prepare("PRAGMA quick_check").all() as Array<
        Record<string, unknown>
      >;
      const check = rows[0] ? String(Object.values(rows[0])[0]) : "no answer";
      if (check !== "ok") {
        throw new Error(`the integrity check failed: ${check}`);
      }
      db.exec(`CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        start TEXT NOT NULL,
        final TEXT
      )`);
      db.exec(`CREATE TABLE IF NOT EXISTS calls (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        call TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      )`);
      // Read it all once: a journal whose rows cannot be read is unusable.
      db.prepare(
        "SELECT count(*), sum(length(start)), sum(length(final)) FROM runs",
      )
        .get();
      db.prepare("SELECT count(*), sum(length(call)) FROM calls").get();
      return new EvidenceJournal(path, db, flushMs);
    } catch (error) {
      db.close();
      throw new Error(
        `Cannot open the evidence journal "${path}": ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
  }

  /**
   * Begins a run's record; on the disk when this returns, fsync'ed (it
   * survives a power cut too: one fsync per run start, off the stop path).
   */
  begin(start: RecordStart): void {
    const db = this.#open();
    this.flush();
    db.exec("PRAGMA synchronous=FULL");
    try {
      this.#begin.run(start.runId, JSON.stringify(start));
    } finally {
      db.exec("PRAGMA synchronous=NORMAL");
    }
  }

  /** Journals a call of run `runId` (started, or ended: same `seq` replaces); written within `flushMs`. */
  call(runId: string, call: CallRecord): void {
    this.#open();
    this.#pendingCalls.push({ runId, call: structuredClone(call) });
    this.#schedule();
  }

  /** Writes the run's final record (and any queued calls) before it returns. */
  finish(record: EvidenceRecord): void {
    this.#open();
    this.flush();
    this.#putFinal.run(record.runId, JSON.stringify(record));
  }

  /** The run was handed to the outbox and the local store: drop it in the next batch. */
  forget(runId: string): void {
    this.#open();
    this.#pendingForget.push(runId);
    this.#schedule();
  }

  /**
   * What the journal holds, oldest first (what a crash left, when called at
   * start). A row that cannot be read is left out and passed to
   * `onUnreadable` with its run and what was wrong.
   */
  unfinished(
    onUnreadable?: (runId: string, reason: string) => void,
  ): JournalEntry[] {
    const db = this.#open();
    this.flush();
    const runs = db.prepare(
      "SELECT run_id, start, final FROM runs ORDER BY rowid",
    )
      .all() as Array<{ run_id: string; start: string; final: string | null }>;
    const calls = db.prepare(
      "SELECT call FROM calls WHERE run_id = ? ORDER BY seq",
    );
    const entries: JournalEntry[] = [];
    for (const run of runs) {
      // One row a disk fault garbled does not keep the others from being
      // recovered: it is told of and left out.
      try {
        const start = JSON.parse(run.start) as RecordStart | null;
        if (run.final === null && start?.runId !== run.run_id) {
          throw new Error("it holds no record start of that run");
        }
        if (run.final !== null) {
          entries.push({
            start: start as RecordStart,
            calls: [],
            final: JSON.parse(run.final) as EvidenceRecord,
          });
          continue;
        }
        entries.push({
          start: start as RecordStart,
          calls: calls.all(run.run_id).map((row) =>
            JSON.parse(String((row as { call: string }).call)) as CallRecord
          ),
          final: null,
        });
      } catch (error) {
        onUnreadable?.(run.run_id, (error as Error).message);
      }
    }
    return entries;
  }

  /** Writes what is queued, in one transaction. */
  flush(): void {
    const db = this.#open();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pendingCalls.length === 0 && this.#pendingForget.length === 0) {
      return;
    }
    const calls = this.#pendingCalls;
    const forget = this.#pendingForget;
    this.#pendingCalls = [];
    this.#pendingForget = [];
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const { runId, call } of calls) {
        this.#putCall.run(runId, call.seq, JSON.stringify(call));
      }
      for (const runId of forget) {
        this.#forgetRun.run(runId);
        this.#forgetCalls.run(runId);
      }
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
    this.#scheduleSync();
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#db === null;
  }

  /** Writes what is queued and closes the database; idempotent. */
  close(): void {
    if (this.#db === null) return;
    clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    try {
      this.flush();
    } finally {
      this.#db.close();
      this.#db = null;
    }
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** fsync the batches (by a checkpoint) at most a second after they were written. */
  #scheduleSync(): void {
    if (this.#syncTimer !== undefined) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      try {
        this.#db?.exec("PRAGMA wal_checkpoint(PASSIVE)");
      } catch {
        // Busy or closed: SQLite's own checkpoints or the close sync it.
      }
    }, _SYNC_INTERVAL_MS);
    Deno.unrefTimer(this.#syncTimer);
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#db === null) return;
      try {
        this.flush();
      } catch {
        // A batch that cannot be written (disk full) loses those journaled
        // calls only; finish() still writes the run's final record or throws.
      }
    }, this.#flushMs);
    Deno.unrefTimer(this.#timer);
  }

  #open(): DatabaseSync {
    if (this.#db === null) {
      throw new StoreClosedError("the evidence journal", this.path);
    }
    return this.#db;
  }
}
