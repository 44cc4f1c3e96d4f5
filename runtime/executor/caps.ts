/** The robot's resource caps for one run. A manifest's budgets can only lower them. */
export interface Caps {
  /** Wall-clock deadline of a run, milliseconds. */
  timeoutMs: number;
  /** QuickJS heap limit, bytes. */
  memoryBytes: number;
  /** Most skill calls one run may make. */
  maxSkillCalls: number;
}

/** The design's default caps: 60 s, 64 MiB, 1000 skill calls. */
export const DEFAULT_CAPS: Readonly<Caps> = Object.freeze({
  timeoutMs: 60_000,
  memoryBytes: 64 * 1024 * 1024,
  maxSkillCalls: 1000,
});

/** The tighter of `caps` and each budget given (budgets never raise a cap). */
export function lowerCaps(caps: Caps, budgets: Partial<Caps> = {}): Caps {
  const pick = (cap: number, budget: number | undefined) =>
    budget !== undefined && Number.isFinite(budget) && budget > 0
      ? Math.min(cap, budget)
      : cap;
  return {
    timeoutMs: pick(caps.timeoutMs, budgets.timeoutMs),
    memoryBytes: pick(caps.memoryBytes, budgets.memoryBytes),
    maxSkillCalls: pick(caps.maxSkillCalls, budgets.maxSkillCalls),
  };
}
