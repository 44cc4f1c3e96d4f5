import type { CallRecord, EvidenceRecord } from "../runtime/evidence/mod.ts";
import type {
  InvokeOptions,
  SkillBackend,
  SkillOutcome,
  WorldState,
} from "../skills-bridge/mod.ts";

/** Where a replay first left the recording. */
export interface ReplayDivergence {
  /** 1-based position of the call that differs. */
  seq: number;
  /** The call the recording has there, or null when the program made more calls than recorded. */
  expected: { skill: string; args: unknown[] } | null;
  /** The call the program made there, or null when it made fewer calls than recorded. */
  actual: { skill: string; args: unknown[] } | null;
}

/**
 * A skill backend that answers from a recorded run: the same calls in the
 * same order get the recorded results; the first call that differs is
 * recorded as the divergence and refused (`cancelled`), which ends the run.
 * `world()` answers the recorded world before the run, then after it.
 */
export class _ReplayBackend implements SkillBackend {
  readonly kind = "replay";
  #calls: CallRecord[];
  #record: EvidenceRecord;
  #next = 0;
  #worldAsked = 0;
  divergence: ReplayDivergence | null = null;

  constructor(record: EvidenceRecord) {
    this.#record = record;
    this.#calls = record.calls;
  }

  /** Calls answered from the recording so far. */
  get replayed(): number {
    return this.#next;
  }

  /** After the run: a recorded call the program never made counts as a divergence. */
  finish(): ReplayDivergence | null {
    const missing = this.#calls[this.#next];
    if (this.divergence === null && missing !== undefined) {
      this.divergence = {
        seq: this.#next + 1,
        expected: { skill: missing.skill, args: missing.args },
        actual: null,
      };
    }
    return this.divergence;
  }

  invoke(
    skill: string,
    args: readonly unknown[],
    _options?: InvokeOptions,
  ): Promise<SkillOutcome> {
    const seq = this.#next + 1;
    const recorded = this.#calls[this.#next];
    const actual = { skill, args: JSON.parse(JSON.stringify(args ?? [])) };
    if (
      this.divergence !== null || recorded === undefined ||
      recorded.skill !== skill ||
      JSON.stringify(recorded.args) !== JSON.stringify(actual.args)
    ) {
      this.divergence ??= {
        seq,
        expected: recorded === undefined
          ? null
          : { skill: recorded.skill, args: recorded.args },
        actual,
      };
      return Promise.resolve({
        ok: false,
        error: {
          code: "cancelled",
          message:
            `Cannot replay call ${seq}: the program left the recording here`,
        },
      });
    }
    this.#next++;
    return Promise.resolve(
      recorded.ok ? { ok: true, value: recorded.result ?? null } : {
        ok: false,
        error: recorded.error as {
          code: "cancelled";
          message: string;
        },
      },
    );
  }

  world(): Promise<WorldState | null> {
    this.#worldAsked++;
    const world = this.#worldAsked === 1
      ? this.#record.worldBefore
      : this.divergence === null
      ? this.#record.worldAfter
      : null;
    return Promise.resolve(world);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}
