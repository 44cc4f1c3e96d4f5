import type { WorldState } from "../../skills-bridge/mod.ts";
import type {
  CallRecord,
  CheckRecord,
  EvidenceRecord,
  Outcome,
  ProgramRecord,
  VerifierReport,
} from "./evidence_record.ts";

/** What is known of a run when it starts: the write-ahead part of its record. */
export interface RecordStart {
  /** Unique id of the run. */
  runId: string;
  /** The robot that runs it. */
  robotId: string;
  /** ISO 8601. */
  startedAt: string;
  /** The program. */
  program: ProgramRecord;
  /** The robot's own verifier report. */
  verifier: VerifierReport;
  /** The world before the run. */
  worldBefore: WorldState | null;
  /** The caps the run got. */
  limits: { memoryLimitBytes: number; timeoutMs: number };
}

/** What is known of a run when it ends. */
export interface RecordEnd {
  /** ISO 8601. */
  endedAt: string;
  /** The world after the run (or now, for an interrupted run). */
  worldAfter: WorldState | null;
  /** The skill calls, in order. */
  calls: CallRecord[];
  /** The postconditions. */
  checks: CheckRecord[];
  /** How the run ended. */
  outcome: Outcome;
  /** Why it failed, or `null`. */
  failure: EvidenceRecord["failure"];
  /** Wall time of the run in ms. */
  wallMs: number;
}

/**
 * The one way an evidence record is assembled (executor, refused deliveries,
 * local runs, runs finished after a crash): `start` is what the write-ahead
 * journal holds from the run's start, `end` what its end adds.
 *
 * @example
 * ```ts
 * import { buildRecord } from "./build_record.ts";
 * const record = buildRecord({
 *   runId: "r1", robotId: "arm-01", startedAt: "2026-01-01T00:00:00.000Z",
 *   program: { sha256: "", source: "", instruction: null, programId: null, version: null, keyId: null },
 *   verifier: { ok: true, issues: [] }, worldBefore: null,
 *   limits: { memoryLimitBytes: 1, timeoutMs: 1 },
 * }, {
 *   endedAt: "2026-01-01T00:00:01.000Z", worldAfter: null, calls: [], checks: [],
 *   outcome: "succeeded", failure: null, wallMs: 1000,
 * });
 * if (record.resources.skillCalls !== 0) throw new Error("calls");
 * ```
 */
export function buildRecord(
  start: RecordStart,
  end: RecordEnd,
): EvidenceRecord {
  return {
    runId: start.runId,
    robotId: start.robotId,
    startedAt: start.startedAt,
    endedAt: end.endedAt,
    program: start.program,
    verifier: start.verifier,
    worldBefore: start.worldBefore,
    worldAfter: end.worldAfter,
    calls: end.calls,
    checks: end.checks,
    outcome: end.outcome,
    failure: end.failure,
    resources: {
      wallMs: end.wallMs,
      skillCalls: end.calls.length,
      memoryLimitBytes: start.limits.memoryLimitBytes,
      timeoutMs: start.limits.timeoutMs,
    },
  };
}
