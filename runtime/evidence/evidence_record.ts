import type { WorldState } from "../../skills-bridge/mod.ts";
import type { VerifierReport } from "../../verifier/mod.ts";

export type { VerifierIssue, VerifierReport } from "../../verifier/mod.ts";

/** Why a run failed: exactly one of these (the design's failure labels, contract). */
export const FAILURE_LABELS = [
  "envelope_rejected",
  "verification_rejected",
  "invalid_argument",
  "precondition_violated",
  "skill_failed",
  "timeout",
  "memory_exceeded",
  "stack_overflow",
  "budget_exceeded",
  "estop",
  "program_error",
  "postcondition_failed",
] as const;

/** One of {@linkcode FAILURE_LABELS}. */
export type FailureLabel = typeof FAILURE_LABELS[number];

/** How a run ended. */
export type Outcome = "succeeded" | "failed" | "rejected" | "stopped";

/** One skill call as the evidence keeps it. */
export interface CallRecord {
  seq: number;
  skill: string;
  args: unknown[];
  ok: boolean;
  result?: unknown;
  error?: { code: string; message: string };
  /** Milliseconds from the run's start. */
  startMs: number;
  durationMs: number;
}

/** One postcondition and whether it held. */
export interface CheckRecord {
  expr: string;
  ok: boolean;
  message?: string;
}

/** The program a run was about. */
export interface ProgramRecord {
  sha256: string;
  source: string;
  instruction: string | null;
  programId: string | null;
  version: number | null;
  keyId: string | null;
}

/** The evidence record: one per run, also for rejected ones (contract). */
export interface EvidenceRecord {
  runId: string;
  robotId: string;
  startedAt: string;
  endedAt: string;
  program: ProgramRecord;
  verifier: VerifierReport;
  worldBefore: WorldState | null;
  worldAfter: WorldState | null;
  calls: CallRecord[];
  checks: CheckRecord[];
  outcome: Outcome;
  failure: null | { label: FailureLabel; message: string; line?: number };
  resources: {
    wallMs: number;
    skillCalls: number;
    memoryLimitBytes: number;
    timeoutMs: number;
  };
}
