import type { EvidenceRecord } from "../runtime/evidence/mod.ts";

/** A run's failure as `label[ at line N]: message`. */
export function _describeFailure(
  failure: NonNullable<EvidenceRecord["failure"]>,
): string {
  return `${failure.label}${
    failure.line === undefined ? "" : ` at line ${failure.line}`
  }: ${failure.message}`;
}

/**
 * Indented lines for the calls (each after `callPrefix`, e.g. `"#"`), the
 * checks and the failure of a run; the caller adds its outcome line.
 */
export function _evidenceLines(
  evidence: EvidenceRecord,
  callPrefix: string,
): string[] {
  const lines = evidence.calls.map((c) =>
    `  ${callPrefix}${c.seq} ${c.skill}(${
      c.args.map((a) => JSON.stringify(a)).join(", ")
    }) ${
      c.ok ? "ok" : `✗ ${c.error?.code ?? "error"}: ${c.error?.message ?? ""}`
    }`
  );
  for (const check of evidence.checks) {
    lines.push(
      `  check ${check.ok ? "✓" : "✗"} ${check.expr}${
        check.message === undefined ? "" : ` (${check.message})`
      }`,
    );
  }
  if (evidence.failure !== null) {
    lines.push(`  failure ${_describeFailure(evidence.failure)}`);
  }
  return lines;
}
