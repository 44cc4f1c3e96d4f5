/** The codes a failed skill reports to the program (the design's skill API contract). */
export const SKILL_ERROR_CODES = [
  "unknown_object",
  "invalid_target",
  "out_of_workspace",
  "gripper_full",
  "not_holding",
  "blocked",
  "grasp_failed",
  "out_of_reach",
  "invalid_argument",
  "cancelled",
  /** The backend itself failed (lost connection, crashed, timed out). Labelled `skill_failed`. */
  "backend_error",
] as const;

/** One of {@linkcode SKILL_ERROR_CODES}. */
export type SkillErrorCode = typeof SKILL_ERROR_CODES[number];

/**
 * A runtime error reported by a skill: the world (or the backend) said no.
 * Distinct from logic errors (bugs in our code), which use the built-in classes.
 */
export class SkillError extends Error {
  /** Why the skill failed. */
  readonly code: SkillErrorCode;

  /** Creates a skill error with its code and a message naming what was wrong. */
  constructor(code: SkillErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SkillError";
    this.code = code;
  }
}

/** True when `value` is one of the skill error codes. */
export function isSkillErrorCode(value: unknown): value is SkillErrorCode {
  return typeof value === "string" &&
    (SKILL_ERROR_CODES as readonly string[]).includes(value);
}
