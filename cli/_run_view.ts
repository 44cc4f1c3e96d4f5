/**
 * The run view every command prints a run with (`cap run`, `cap exec`,
 * `cap send --run`, `cap evidence`): an outcome line, then one line per skill
 * call, the checks and the resources. Long values end in "…", never mid-token
 * without a mark.
 * @module
 */
import type { CallRecord, EvidenceRecord } from "../runtime/evidence/mod.ts";

/** How many characters of a value a line shows before "…". */
export const VALUE_WIDTH = 120;

/** `text` cut to `max` characters, the last one "…" when it was cut. */
export function _clip(text: string, max: number = VALUE_WIDTH): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max - 1).join("") + "…";
}

/** A value as compact JSON, cut with "…". */
function _value(value: unknown, max = VALUE_WIDTH): string {
  return _clip(JSON.stringify(value) ?? String(value), max);
}

/** One skill call: `  #3 pick("red_block") ok`, `  #1 detect() → [...]…`. */
export function _callLine(call: CallRecord): string {
  const args = _clip(call.args.map((a) => _value(a, 60)).join(", "), 80);
  const result = call.ok
    ? (call.result === null || call.result === undefined
      ? "ok"
      : `→ ${_value(call.result)}`)
    : `✗ ${call.error?.code ?? "error"}: ${_clip(call.error?.message ?? "")}`;
  return `  #${call.seq} ${call.skill}(${args}) ${result}`;
}

/** The outcome line, the failure and the verifier's issues. */
export function _runHeader(evidence: EvidenceRecord): string[] {
  const lines = [
    `run ${evidence.runId}: ${evidence.outcome}${
      evidence.failure ? ` (${evidence.failure.label})` : ""
    }`,
  ];
  if (evidence.failure) {
    lines.push(
      `  ${_clip(evidence.failure.message, 400)}${
        evidence.failure.line ? ` [line ${evidence.failure.line}]` : ""
      }`,
    );
  }
  for (const issue of evidence.verifier.issues) {
    lines.push(
      `  verifier ${issue.line}:${issue.column} ${issue.code}: ${issue.message}`,
    );
  }
  return lines;
}

/** The checks, what was left out, and the resource line. */
export function _runFooter(evidence: EvidenceRecord): string[] {
  const lines: string[] = [];
  for (const check of evidence.checks) {
    lines.push(
      `  check ${check.ok ? "✓" : "✗"} ${_clip(check.expr)}${
        check.message ? ` (${_clip(check.message)})` : ""
      }`,
    );
  }
  // `truncated` is in the contract; older records may not have the field.
  const truncated = (evidence as { truncated?: { calls?: number } }).truncated;
  if (truncated !== undefined) {
    lines.push(
      `  (record shortened: ${truncated.calls ?? 0} call(s) left out)`,
    );
  }
  lines.push(
    `  ${evidence.resources.skillCalls} skill call(s) in ${evidence.resources.wallMs} ms`,
  );
  return lines;
}

/** A human-readable account of an evidence record. */
export function _renderEvidence(evidence: EvidenceRecord): string {
  return [
    ..._runHeader(evidence),
    ...evidence.calls.map(_callLine),
    ..._runFooter(evidence),
  ].join("\n");
}

/**
 * The live part of the run view for streamed run events (`cap exec`):
 * a line when the run starts and one per finished skill call; `null` for
 * events that print nothing (the caller prints the end with
 * {@linkcode _renderRunEnd}).
 */
export function _eventLine(
  event: { runId: string; type: string; data: unknown },
): string | null {
  const data = event.data as Record<string, unknown> | null;
  if (event.type === "run_started") return `run ${event.runId} started`;
  if (event.type === "skill_ended" && data !== null && "call" in data) {
    return _callLine(data.call as CallRecord);
  }
  return null;
}

/** The end of a streamed run: the outcome, the checks and the resources. */
export function _renderRunEnd(evidence: EvidenceRecord): string {
  return [..._runHeader(evidence), ..._runFooter(evidence)].join("\n");
}
