import type { SkillBackend, WorldState } from "../../skills-bridge/mod.ts";
import {
  boundRecord,
  buildRecord,
  type CallRecord,
  DEFAULT_EVIDENCE_MAX_BYTES,
  type EvidenceRecord,
  type RecordStart,
} from "../evidence/mod.ts";
import type { RunEvent } from "../executor/mod.ts";
import type { EvidenceJournal } from "./evidence_journal.ts";

/** Options of {@linkcode EvidenceKeeper}. */
export interface EvidenceKeeperOptions {
  /** The local evidence store (the program cache). */
  store: {
    recordEvidence(
      evidence: EvidenceRecord,
      options?: { once?: boolean },
    ): void;
  };
  /** Durably queues a record for the fleet (the outbox); throws when it cannot. */
  queue?: ((evidence: EvidenceRecord) => void) | undefined;
  /** The write-ahead journal; without it a crash mid-run leaves no record. */
  journal?: EvidenceJournal | null | undefined;
  /** `evidence.maxBytes`. Default 262144. */
  maxBytes?: number | undefined;
  /** Where it reports what it could not do. */
  log?: (
    level: "debug" | "info" | "warn" | "error",
    message: string,
    data?: Record<string, unknown>,
  ) => void;
  /** The clock; default `() => new Date()`. */
  now?: () => Date;
}

/**
 * The service's evidence keeping, in one place: every record is bounded
 * (`evidence.maxBytes`), begun write-ahead in the journal when its run
 * starts (from the executor's `run_started`), its calls journaled as they
 * start and end, its final form journaled, then handed to the outbox and the
 * local store, and forgotten by the journal. After a crash,
 * {@linkcode EvidenceKeeper.recover} finishes what the journal holds.
 */
export class EvidenceKeeper {
  readonly #store: EvidenceKeeperOptions["store"];
  readonly #queue: EvidenceKeeperOptions["queue"];
  readonly #journal: EvidenceJournal | null;
  readonly #maxBytes: number;
  readonly #log: NonNullable<EvidenceKeeperOptions["log"]>;
  readonly #now: () => Date;
  #runStarts = new Map<string, number>();

  /** Creates the keeper. */
  constructor(options: EvidenceKeeperOptions) {
    this.#store = options.store;
    this.#queue = options.queue;
    this.#journal = options.journal ?? null;
    this.#maxBytes = options.maxBytes ?? DEFAULT_EVIDENCE_MAX_BYTES;
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * The evidence journal's side of a run event: run_started begins the
   * record, each call is journaled as it starts and ends, run_ended keeps
   * the (bounded) record. Returns the event to pass on: run_started without
   * the journal's part, run_ended with the bounded record.
   */
  event(event: RunEvent): RunEvent {
    switch (event.type) {
      case "run_started": {
        const { start, ...rest } = event;
        if (start !== undefined) {
          this.#journaled(event.runId, (j) => j.begin(start));
          this.#runStarts.set(event.runId, Date.parse(start.startedAt));
        }
        return rest;
      }
      case "skill_started": {
        const startedAt = this.#runStarts.get(event.runId);
        this.#journaled(event.runId, (j) =>
          j.call(event.runId, {
            seq: event.seq,
            skill: event.skill,
            args: event.args,
            ok: false,
            error: {
              code: "interrupted",
              message: "the service stopped while this call ran",
            },
            startMs: startedAt === undefined ? 0 : Date.now() - startedAt,
            durationMs: 0,
          }));
        return event;
      }
      case "skill_ended":
        this.#journaled(event.runId, (j) => j.call(event.runId, event.call));
        return event;
      case "run_ended":
        this.#runStarts.delete(event.runId);
        return { ...event, evidence: this.keep(event.evidence) };
      default:
        return event;
    }
  }

  #journaled(runId: string, write: (journal: EvidenceJournal) => void): void {
    if (this.#journal === null || this.#journal.closed) return;
    try {
      write(this.#journal);
    } catch (error) {
      this.#log(
        "error",
        `cannot journal run ${runId}: ${
          (error as Error).message
        }; a crash now would lose its calls`,
      );
    }
  }

  /** Finishes what a crash left in the journal (as `interrupted`, with the world `backend` reports now) and keeps it like any other record. */
  async recover(backend: SkillBackend): Promise<void> {
    const journal = this.#journal;
    if (journal === null) return;
    let entries;
    try {
      entries = journal.unfinished((runId, reason) => {
        this.#log(
          "error",
          `cannot read run ${runId} in the evidence journal (${reason}): dropped it; no record of that run can be made`,
          { runId },
        );
        journal.forget(runId);
      });
    } catch (error) {
      this.#log(
        "error",
        `cannot read the evidence journal: ${(error as Error).message}`,
      );
      return;
    }
    if (entries.length === 0) return;
    let worldNow = null;
    if (entries.some((entry) => entry.final === null)) {
      try {
        worldNow = await backend.world({
          signal: AbortSignal.timeout(2_000),
        });
      } catch (error) {
        this.#log(
          "warn",
          `cannot read the world for interrupted runs: ${
            (error as Error).message
          }`,
        );
      }
    }
    for (const entry of entries) {
      if (entry.final !== null) {
        // It ended and was being handed on when the service stopped: send
        // the same record again (at-least-once).
        this.#log("info", `re-sending the record of run ${entry.final.runId}`);
        // The local store may hold it already: it keeps it once.
        this.keep(entry.final, { again: true });
        continue;
      }
      try {
        this.#finishInterrupted(entry.start, entry.calls, worldNow);
      } catch (error) {
        // A row that parsed but is no record start (a disk fault, a hand
        // edit): the other runs are recovered all the same.
        const runId = String(
          (entry.start as { runId?: unknown } | null)?.runId ?? "(unknown)",
        );
        this.#log(
          "error",
          `cannot finish run ${runId} from the evidence journal (${
            (error as Error).message
          }): dropped it`,
          { runId },
        );
        if (runId !== "(unknown)") journal.forget(runId);
      }
    }
  }

  /** Makes and keeps the `interrupted` record of a run a crash left open. */
  #finishInterrupted(
    start: RecordStart,
    calls: CallRecord[],
    worldNow: WorldState | null,
  ): void {
    const last = calls.at(-1);
    const record = buildRecord(start, {
      endedAt: this.#now().toISOString(),
      worldAfter: worldNow,
      calls,
      checks: [],
      outcome: "failed",
      failure: {
        label: "interrupted",
        message:
          `The service stopped during the run (crash, kill or power loss); the record was finished when it started again, with the ${calls.length} call(s) journaled before`,
      },
      wallMs: last === undefined ? 0 : last.startMs + last.durationMs,
    });
    this.#log(
      "warn",
      `run ${start.runId} of "${
        start.program.programId ?? "(local)"
      }" was interrupted: finished it as failed/interrupted with ${calls.length} call(s)`,
      { runId: start.runId },
    );
    this.keep(record);
  }

  /**
   * Evidence is bounded (`evidence.maxBytes`), its final form written to
   * the journal, then it goes to the durable outbox, then to the local
   * store; the journal then forgets the run. A record the outbox refuses
   * (full) is never dropped silently: the log says where it still is, and
   * when the local store fails too, the log line carries the record itself.
   * Returns the bounded record (what gRPC answers with). `again`: the
   * journal's recovery keeps a record it may have stored already.
   */
  keep(raw: EvidenceRecord, options: { again?: boolean } = {}): EvidenceRecord {
    let evidence = raw;
    try {
      evidence = boundRecord(raw, this.#maxBytes);
    } catch (error) {
      this.#log(
        "error",
        `cannot bound evidence of run ${raw.runId}: ${
          (error as Error).message
        }`,
      );
    }
    if (evidence.truncated !== undefined) {
      this.#log(
        "warn",
        `evidence of run ${evidence.runId} cut to ${this.#maxBytes} bytes`,
        { runId: evidence.runId, truncated: evidence.truncated },
      );
    }
    this.#journaled(evidence.runId, (j) => j.finish(evidence));
    let queueError: Error | null = null;
    try {
      this.#queue?.(evidence);
    } catch (error) {
      queueError = error as Error;
    }
    let storeError: Error | null = null;
    try {
      this.#store.recordEvidence(
        evidence,
        options.again ? { once: true } : {},
      );
    } catch (error) {
      storeError = error as Error;
    }
    const run = {
      runId: evidence.runId,
      outcome: evidence.outcome,
      label: evidence.failure?.label ?? null,
    };
    if (queueError !== null && storeError !== null) {
      this.#log(
        "error",
        `cannot keep evidence of run ${evidence.runId}: the outbox refused it (${queueError.message}) and the local store failed (${storeError.message}); the record is in this log line only`,
        { ...run, evidence },
      );
    } else if (queueError !== null) {
      this.#log(
        "error",
        `cannot queue evidence of run ${evidence.runId} for the fleet: ${queueError.message}; it is kept in the local evidence store only${
          evidence.outcome === "rejected"
            ? " (among its newest 100 refused deliveries)"
            : ""
        }`,
        run,
      );
    } else if (storeError !== null) {
      this.#log(
        "error",
        `cannot store evidence of run ${evidence.runId} locally: ${storeError.message}`,
        run,
      );
    }
    this.#journaled(evidence.runId, (j) => j.forget(evidence.runId));
    return evidence;
  }
}
