import type { WorldState } from "../../skills-bridge/mod.ts";
import type { VerifierReport } from "../../verifier/mod.ts";

export type { VerifierIssue, VerifierReport } from "../../verifier/mod.ts";
export type { WorldState } from "../../skills-bridge/mod.ts";

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
  "interrupted",
] as const;

/** One of {@linkcode FAILURE_LABELS}. */
export type FailureLabel = typeof FAILURE_LABELS[number];

/** How a run ended. */
export type Outcome = "succeeded" | "failed" | "rejected" | "stopped";

/** One skill call as the evidence keeps it. */
export interface CallRecord {
  /** 1-based order of the call in the run. */
  seq: number;
  /** The skill's name, e.g. `pick`. */
  skill: string;
  /** The arguments as the program passed them (large ones recorded by size). */
  args: unknown[];
  /** Whether it succeeded (held). */
  ok: boolean;
  /** What the skill returned, when it succeeded. */
  result?: unknown;
  /** Why it failed: a skill error code and message. */
  error?: { code: string; message: string };
  /** Milliseconds from the run's start. */
  startMs: number;
  /** How long the call took, ms. */
  durationMs: number;
}

/** One postcondition and whether it held. */
export interface CheckRecord {
  /** The postcondition expression. */
  expr: string;
  /** Whether it succeeded (held). */
  ok: boolean;
  /** Why it did not hold (an exception's message). */
  message?: string;
}

/** The program a run was about. */
export interface ProgramRecord {
  /** SHA-256 (hex) of the source. */
  sha256: string;
  /** The program's source. */
  source: string;
  /** The natural-language instruction it was written for. */
  instruction: string | null;
  /** The signed program's id; `null` for a local run. */
  programId: string | null;
  /** The signed program's version. */
  version: number | null;
  /** The key that signed it. */
  keyId: string | null;
}

/** The evidence record: one per run, also for rejected ones (contract). */
export interface EvidenceRecord {
  /** Unique id of the run. */
  runId: string;
  /** The robot that ran it. */
  robotId: string;
  /** When the run started, ISO 8601. */
  startedAt: string;
  /** When the run ended, ISO 8601. */
  endedAt: string;
  /** The program the run was about. */
  program: ProgramRecord;
  /** The robot's own verifier report. */
  verifier: VerifierReport;
  /** The world-state estimate before the run. */
  worldBefore: WorldState | null;
  /** The world-state estimate after the run. */
  worldAfter: WorldState | null;
  /** The skill calls, in order (the middle dropped when the record was bounded). */
  calls: CallRecord[];
  /** The postconditions and whether each held. */
  checks: CheckRecord[];
  /** How the run ended. */
  outcome: Outcome;
  /** Why it failed, or `null`. */
  failure: null | { label: FailureLabel; message: string; line?: number };
  /** What the run used, and its caps. */
  resources: {
    /** Wall time of the run, ms. */
    wallMs: number;
    /** Skill calls made (also those dropped from `calls`). */
    skillCalls: number;
    /** The memory cap of the run. */
    memoryLimitBytes: number;
    /** The deadline of the run, ms. */
    timeoutMs: number;
  };
  /** What `boundRecord` left out to keep the record under its size bound. */
  truncated?: Truncation;
}

/** What a bounded record left out (contract: `truncated`). */
export interface Truncation {
  /** Calls dropped from the middle of `calls`. */
  calls: number;
  /** Verifier issues dropped. */
  issues: number;
  /** Serialised bytes left out (the original size minus the bounded size). */
  bytes: number;
}
