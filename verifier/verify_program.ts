import type { VerifierApi } from "./verifier_api.ts";
import type { VerifierIssue, VerifierReport } from "./verifier_issue.ts";
import {
  _DEFAULT_MAX_BYTES,
  _MAX_REPORTED_ISSUES,
  _WORK_BUDGET,
} from "./_rules.ts";
import { _Checker, _UNKNOWN_FUNCTION_NAMES } from "./_checker.ts";

/** Options of {@link verifyProgram}. */
export interface VerifyOptions {
  /** The skills the program may call (the robot's own API on the robot). */
  api: VerifierApi;
  /** Largest accepted source, in UTF-8 bytes. Default 65536. */
  maxBytes?: number;
  /**
   * `"program"` (default): a script of statements and function declarations.
   * `"check"`: one expression (a postcondition); only `query` skills may be
   * used, and naming an action skill is `forbidden_identifier`.
   */
  mode?: "program" | "check";
  /**
   * Work bound, in steps (nodes visited, key facts evaluated, and the string
   * patterns the key proofs build, one step per pattern and per 64 of its
   * characters); a source that needs more is refused `too_complex`.
   * Deterministic: the same source gets the same verdict on every machine.
   * Default 2 000 000: seconds at worst (a step costs up to about 3 µs on
   * the build machine), so the runtime verifies large sources in a worker
   * with a wall-time bound, and short ones inline only within a small bound.
   */
  maxSteps?: number;
  /**
   * Counts the steps this verification took (they are added to `steps`):
   * a caller that verifies several sources under one bound passes the same
   * object to each and gives each the steps left.
   */
  work?: { steps: number };
  /**
   * Filled, when the program is accepted, with every `catch` clause that
   * binds its error to a plain name, in source order: where the runtime
   * puts its stop guard, without parsing the source again. Left as it is
   * when the program is refused, and in `"check"` mode.
   */
  catchSites?: CatchSite[];
}

/**
 * A `catch` clause that binds its error to a name (`catch (e) {`): the
 * offset, in UTF-16 code units, just after its body's `{`, and that name.
 */
export interface CatchSite {
  /** Offset just after the clause body's `{`. */
  offset: number;
  /** The name the clause binds the error to. */
  name: string;
}

/**
 * Statically checks an LLM-written program (or, with `mode: "check"`, one
 * postcondition expression) against the language subset and the skill API.
 * The report lists the first 100 issues in source order and counts the rest
 * in `omitted`. Pure and synchronous; never throws, whatever the input; its
 * work is bounded by `maxSteps`.
 *
 * @example
 * ```ts
 * import { verifyProgram } from "./verify_program.ts";
 * const api = { skills: [] };
 * const report = verifyProgram("globalThis.Deno.exit()", { api });
 * if (report.ok || report.issues[0]?.code !== "forbidden_identifier") {
 *   throw new Error("globalThis must be refused");
 * }
 * ```
 */
export function verifyProgram(
  source: string,
  options: VerifyOptions,
): VerifierReport {
  const issues: VerifierIssue[] = [];
  try {
    _verify(source, options, issues);
  } catch (error) {
    if (error instanceof RangeError) {
      issues.push({
        code: "too_large",
        message:
          "Cannot verify program: nesting too deep (the checker ran out of stack)",
        line: 1,
        column: 1,
      });
    } else {
      issues.push({
        code: "syntax_error",
        message: `Cannot verify program: internal verifier error: ${
          error instanceof Error ? error.message : String(error)
        }`,
        line: 1,
        column: 1,
      });
    }
  }
  return _report(issues);
}

function _verify(
  source: string,
  options: VerifyOptions,
  issues: VerifierIssue[],
): void {
  if (typeof source !== "string") {
    issues.push({
      code: "syntax_error",
      message: `Cannot verify program: the source must be a string, got ${
        source === null ? "null" : typeof source
      }`,
      line: 1,
      column: 1,
    });
    return;
  }
  const maxBytes = options.maxBytes ?? _DEFAULT_MAX_BYTES;
  const size = _utf8Length(source, maxBytes);
  if (size > maxBytes) {
    issues.push({
      code: "too_large",
      message: `Cannot verify program: it is larger than ${maxBytes} bytes (${
        size === Infinity ? `at least ${source.length} bytes` : `${size} bytes`
      })`,
      line: 1,
      column: 1,
    });
    return;
  }
  const mode = options.mode ?? "program";
  const checker = new _Checker(
    options.api,
    mode,
    source,
    issues,
    options.maxSteps ?? _WORK_BUDGET,
  );
  try {
    if (mode === "check") checker.checkExpression();
    else {
      checker.checkProgram();
      if (options.catchSites && issues.length === 0) {
        options.catchSites.push(...checker.catchSites());
      }
    }
  } finally {
    if (options.work) options.work.steps += checker.steps;
  }
}

/** UTF-8 length of `s`, or `Infinity` once it is certainly above `limit`. */
function _utf8Length(s: string, limit: number): number {
  // Every UTF-16 code unit takes at least one UTF-8 byte.
  if (s.length > limit) return Infinity;
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

function _sortUnique(issues: VerifierIssue[]): VerifierIssue[] {
  const seen = new Set<string>();
  const out: VerifierIssue[] = [];
  for (const issue of issues) {
    const key =
      `${issue.code}\u0000${issue.line}\u0000${issue.column}\u0000${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  // Array.prototype.sort is stable: equal positions keep walk order.
  return out.sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * The names of the functions a report says are unknown (its
 * `unknown_function` issues), in source order and each once: the helpers a
 * hierarchical synthesis still has to write. Reads the issues' data, not
 * their messages; it knows the issues of reports `verifyProgram` returned
 * (the same objects, also when copied into another report), not issues
 * read back from JSON.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { listUnknownFunctions, verifyProgram } from "./verify_program.ts";
 * const report = verifyProgram("stack(); stack(); sortAll();", { api: { skills: [] } });
 * deepStrictEqual(listUnknownFunctions(report), ["stack", "sortAll"]);
 * ```
 */
export function listUnknownFunctions(
  report: Pick<VerifierReport, "issues">,
): string[] {
  const names = new Set<string>();
  for (const issue of report.issues) {
    if (issue.code !== "unknown_function") continue;
    const name = _UNKNOWN_FUNCTION_NAMES.get(issue);
    if (name !== undefined) names.add(name);
  }
  return [...names];
}

/** The report: unique issues in source order, the first `_MAX_REPORTED_ISSUES` of them. */
function _report(issues: VerifierIssue[]): VerifierReport {
  const sorted = _sortUnique(issues);
  if (sorted.length <= _MAX_REPORTED_ISSUES) {
    return { ok: sorted.length === 0, issues: sorted };
  }
  return {
    ok: false,
    issues: sorted.slice(0, _MAX_REPORTED_ISSUES),
    omitted: sorted.length - _MAX_REPORTED_ISSUES,
  };
}
