/**
 * The sandbox's numeric limits that programs run into, in one place: the
 * runtime's sandbox enforces them and the verifier's language rules (the
 * text the LLM reads) state them. Change a limit here and both follow.
 *
 * @example
 * ```ts
 * import { SANDBOX_LIMITS } from "./sandbox_limits.ts";
 * if (SANDBOX_LIMITS.maxArrayLength < 1000) throw new Error("too small for a tabletop");
 * ```
 */
export const SANDBOX_LIMITS: SandboxLimits = Object.freeze({
  maxArrayLength: 100_000,
  maxCompareWork: 10_000_000,
  maxSkillArgumentDepth: 32,
  maxSkillArgumentValues: 10_000,
  maxSkillArgumentsJsonBytes: 64 * 1024,
});

/** The sandbox's numeric limits (see {@linkcode SANDBOX_LIMITS}). */
export interface SandboxLimits {
  /**
   * Array builtins (their loops run in C and cannot be interrupted) refuse
   * arrays longer than this, and array lengths must be numbers.
   */
  readonly maxArrayLength: number;
  /**
   * Builtins that compare characters (string searches, sorts, element
   * searches) refuse work above this many characters (text × pattern).
   */
  readonly maxCompareWork: number;
  /** Skill arguments must be plain data nested at most this deep. */
  readonly maxSkillArgumentDepth: number;
  /** Skill arguments may hold at most this many values in all. */
  readonly maxSkillArgumentValues: number;
  /** The JSON of one skill call's arguments may be at most this many bytes. */
  readonly maxSkillArgumentsJsonBytes: number;
}
