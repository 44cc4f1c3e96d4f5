import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import type { VerifierReport } from "../verifier/mod.ts";

/**
 * The record of synthesis attempts, in its own file so that the error type
 * (`SynthesisError` carries the attempts) and the repair loop both import it
 * without importing each other.
 * @module
 */

/** One helper function the model wrote on request (hierarchical generation). */
export interface HelperRecord {
  /** The helper's function name, as the verifier reported it unknown. */
  name: string;
  /** 1 for helpers the program calls, 2 for helpers those helpers call, … */
  depth: number;
  /** SHA-256 of the prompt that asked for it. */
  promptSha256: string;
  /** The helper's source, as the model wrote it. */
  source: string;
}

/** One attempt: the prompt's hash, the program, the verifier report and the dry-run evidence. */
export interface SynthesisAttempt {
  /** 1-based. */
  attempt: number;
  /** SHA-256 of the conversation sent for this attempt. */
  promptSha256: string;
  /** The model's raw answer. */
  answer: string;
  /** The program checked: the extracted code plus generated helpers; `null` when none could be extracted. */
  source: string | null;
  /** Helpers written on request for this attempt. */
  helpers: HelperRecord[];
  /** The verifier's report on `source`, or `null` when it was not reached. */
  verifier: VerifierReport | null;
  /** The dry-run's evidence record, or `null` when the verifier refused the program. */
  dryRun: EvidenceRecord | null;
  /** Why the attempt ended without a program (malformed answer, model error). */
  error?: string;
}
