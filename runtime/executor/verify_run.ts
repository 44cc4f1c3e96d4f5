import type { SkillApi } from "../../skills-bridge/mod.ts";
import { type CatchSite, verifyProgram } from "../../verifier/mod.ts";
import type { VerifierIssue, VerifierReport } from "../evidence/mod.ts";

/** The most issues a report lists (contract); `omitted` counts the rest. */
const MAX_ISSUES = 100;

/** Options of {@linkcode verifyRun}. */
export interface VerifyRunOptions {
  /** Filled with an accepted program's `catch` clauses (see `VerifyOptions.catchSites`). */
  catchSites?: CatchSite[];
  /**
   * The work bound, in steps, of the program and its checks together
   * (default the verifier's own for each: `VerifyOptions.maxSteps`).
   */
  maxSteps?: number;
}

/**
 * One verifier report for a program and its postconditions: the program's
 * issues, then each check's (checks may use only the query skills), the
 * latter prefixed with the check they belong to; the first 100 in all, and
 * how many more were found.
 */
export function verifyRun(
  source: string,
  checks: readonly string[],
  api: SkillApi,
  options: VerifyRunOptions = {},
): VerifierReport {
  const { catchSites, maxSteps } = options;
  // One bound for all: each part gets the steps the ones before it left.
  const work = { steps: 0 };
  const bound = () =>
    maxSteps === undefined
      ? {}
      : { maxSteps: Math.max(1, maxSteps - work.steps), work };
  const program = verifyProgram(source, {
    api,
    ...(catchSites ? { catchSites } : {}),
    ...bound(),
  });
  const issues: VerifierIssue[] = [...program.issues];
  let omitted = program.omitted ?? 0;
  checks.forEach((expr, i) => {
    const report = verifyProgram(expr, {
      api,
      mode: "check",
      ...bound(),
    });
    omitted += report.omitted ?? 0;
    for (const issue of report.issues) {
      issues.push({
        ...issue,
        message: `check ${i + 1} (${
          JSON.stringify(expr.slice(0, 60))
        }): ${issue.message}`,
      });
    }
  });
  omitted += Math.max(0, issues.length - MAX_ISSUES);
  return {
    ok: issues.length === 0 && omitted === 0,
    issues: issues.slice(0, MAX_ISSUES),
    ...(omitted > 0 ? { omitted } : {}),
  };
}
