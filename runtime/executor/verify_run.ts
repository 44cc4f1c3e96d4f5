import type { SkillApi } from "../../skills-bridge/mod.ts";
import { verifyProgram } from "../../verifier/mod.ts";
import type { VerifierIssue, VerifierReport } from "../evidence/mod.ts";

/**
 * One verifier report for a program and its postconditions: the program's
 * issues, then each check's (checks may use only the query skills), the
 * latter prefixed with the check they belong to.
 */
export function verifyRun(
  source: string,
  checks: readonly string[],
  api: SkillApi,
): VerifierReport {
  const issues: VerifierIssue[] = [...verifyProgram(source, { api }).issues];
  checks.forEach((expr, i) => {
    for (const issue of verifyProgram(expr, { api, mode: "check" }).issues) {
      issues.push({
        ...issue,
        message: `check ${i + 1} (${
          JSON.stringify(expr.slice(0, 60))
        }): ${issue.message}`,
      });
    }
  });
  return { ok: issues.length === 0, issues };
}
