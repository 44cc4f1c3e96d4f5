import { showValue } from "../skills-bridge/mod.ts";
import type {
  EvidenceRecord,
  VerifierReport,
} from "../runtime/evidence/mod.ts";

const MAX_CALLS_SHOWN = 40;
const MAX_VALUE_CHARS = 160;

/** What went wrong with a candidate program: the verifier's refusal or a failed dry-run. */
export type RepairFeedback =
  | { kind: "verifier"; report: VerifierReport }
  | { kind: "dry_run"; evidence: EvidenceRecord };

/**
 * The user message that sends a failed attempt back to the model: every
 * verifier issue (code, message, line), or the dry-run's failure label,
 * message and line, the skill calls made and the postconditions.
 */
export function buildRepairMessage(feedback: RepairFeedback): string {
  const ask =
    "Fix the program and answer with the whole corrected program in one ```js code block.";
  if (feedback.kind === "verifier") {
    const issues = feedback.report.issues.map((i) =>
      `- line ${i.line}:${i.column} ${i.code}: ${i.message}`
    );
    return [
      `The static verifier refused the program (${feedback.report.issues.length} issue(s)):`,
      ...issues,
      "",
      ask,
    ].join("\n");
  }
  const ev = feedback.evidence;
  const lines = [
    "The program passed the verifier, but its dry-run in the simulator failed.",
  ];
  if (ev.failure !== null) {
    const at = ev.failure.line === undefined
      ? ""
      : ` (line ${ev.failure.line})`;
    lines.push(`Failure: ${ev.failure.label}${at}: ${ev.failure.message}`);
  } else {
    lines.push(`Outcome: ${ev.outcome}`);
  }
  if (ev.calls.length > 0) {
    const skipped = Math.max(0, ev.calls.length - MAX_CALLS_SHOWN);
    lines.push(
      `Skill calls made (${ev.calls.length}${
        skipped > 0 ? `, the first ${skipped} left out` : ""
      }):`,
    );
    for (const call of ev.calls.slice(skipped)) {
      const args = call.args.map((v) => showValue(v, MAX_VALUE_CHARS)).join(
        ", ",
      );
      const end = call.ok
        ? `ok${
          call.result === undefined || call.result === null
            ? ""
            : ` → ${showValue(call.result, MAX_VALUE_CHARS)}`
        }`
        : `threw ${call.error?.code ?? "error"}: ${call.error?.message ?? ""}`;
      lines.push(`${call.seq}. ${call.skill}(${args}) ${end}`);
    }
  } else {
    lines.push("No skill calls were made.");
  }
  if (ev.checks.length > 0) {
    lines.push("Postconditions:");
    for (const check of ev.checks) {
      lines.push(
        `- ${check.ok ? "held" : "FAILED"}: ${check.expr}${
          check.message === undefined ? "" : ` (${check.message})`
        }`,
      );
    }
  }
  if (ev.worldAfter !== null) {
    lines.push("World after the run:");
    for (const obj of ev.worldAfter.objects) {
      lines.push(
        `- ${obj.id} at x=${obj.x.toFixed(2)}, y=${obj.y.toFixed(2)}, on ${
          obj.on ?? "the table"
        }`,
      );
    }
    lines.push(`- holding: ${ev.worldAfter.holding ?? "nothing"}`);
  }
  lines.push("", ask);
  return lines.join("\n");
}
