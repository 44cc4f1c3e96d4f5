import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import { _eachRobot } from "./_robots.ts";
import { UsageError } from "./_usage_error.ts";

/**
 * One run's record from the robot `--to` names (one robot only), or `null`
 * after printing why not.
 */
export async function _fetchEvidence(
  flags: Record<string, unknown>,
  runId: string,
  signal?: AbortSignal,
): Promise<EvidenceRecord | null> {
  if (Array.isArray(flags.to) && new Set(flags.to).size > 1) {
    throw new UsageError("takes one --to: a run id belongs to one robot");
  }
  const [result] = await _eachRobot(flags, {
    command: "evidence",
    doing: `fetch the evidence of run "${runId}"`,
    ...(signal ? { signal } : {}),
  }, (client) => client.getEvidence(runId, signal ? { signal } : {}));
  return result?.ok ? result.value : null;
}
