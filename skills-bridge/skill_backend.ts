import type { SkillErrorCode } from "./skill_error.ts";
import { ClosedError } from "./closed_error.ts";
import type { WorldState } from "./skill_api.ts";

/** What a skill invocation ended with. Never thrown: returned. */
export type SkillOutcome =
  | { ok: true; value: unknown }
  | { ok: false; error: { code: SkillErrorCode; message: string } };

/** Options for one skill invocation. */
export interface InvokeOptions {
  /** Aborting halts the skill; it then ends `{ ok: false, code: "cancelled" }`. */
  signal?: AbortSignal;
  /** Progress reports from a long-running skill (ROS 2 action feedback). */
  onFeedback?: (feedback: unknown) => void;
}

/**
 * A robot's skills: the built-in tabletop simulator or ROS 2 actions.
 *
 * Lifecycle of a skill (as in BehaviorTree.CPP): start → running →
 * succeeded | failed | halted. `invoke` starts it; the promise settles when it
 * ends; aborting the signal halts it. Arguments arrive already validated
 * against the skill's zod schema (see `callSkill`).
 */
export interface SkillBackend extends AsyncDisposable {
  /** `"sim"`, `"ros2"`, … */
  readonly kind: string;
  /** Starts a skill and resolves when it ends. World errors resolve `{ ok: false }`. */
  invoke(
    skill: string,
    args: readonly unknown[],
    options?: InvokeOptions,
  ): Promise<SkillOutcome>;
  /** The backend's current estimate of the world, or `null` when it has none. */
  world(options?: { signal?: AbortSignal }): Promise<WorldState | null>;
}

/** A backend was used after it was disposed (a logic error in the caller). */
export class BackendDisposedError extends ClosedError {
  /** The kind of the disposed backend (`"sim"`, …). */
  readonly backend: string;

  /** Creates the error for `action` (e.g. `"run pick"`) on a disposed backend. */
  constructor(backend: string, action: string, options?: ErrorOptions) {
    super(`the ${backend} backend`, { ...options, action, state: "disposed" });
    this.name = "BackendDisposedError";
    this.backend = backend;
  }
}
