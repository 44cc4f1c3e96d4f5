import type { SynthesisAttempt } from "./synthesis_attempt.ts";

/** Why synthesis could not go on (see {@linkcode SynthesisError}). */
export type SynthesisErrorCode =
  /** No model is configured (no base URL, no API key, no model name). */
  | "no_model"
  /** The model server could not be reached (connection refused, DNS, TLS). */
  | "model_unreachable"
  /** The model server answered with an HTTP error (after retries for 429/5xx). */
  | "model_error"
  /** The model did not answer within the timeout (after retries). */
  | "timeout"
  /** The model's answer holds no usable program (no code block, empty). */
  | "malformed_answer"
  /** The caller's signal aborted synthesis. */
  | "aborted";

/**
 * A condition of cloud synthesis that callers catch: no model reachable, an
 * HTTP error from the model, a timeout, a malformed answer. A program that
 * never passes verification or its dry-run is not an error: `synthesize`
 * returns `{ ok: false }` with the attempt log.
 */
export class SynthesisError extends Error {
  /** What went wrong. */
  readonly code: SynthesisErrorCode;
  /** The attempts made before the error (empty when none). */
  readonly attempts: readonly SynthesisAttempt[];

  /** Creates a synthesis error with its code; `cause` keeps the original error. */
  constructor(
    code: SynthesisErrorCode,
    message: string,
    options?: ErrorOptions & { attempts?: readonly SynthesisAttempt[] },
  ) {
    super(message, options);
    this.name = "SynthesisError";
    this.code = code;
    this.attempts = options?.attempts ?? [];
  }
}
