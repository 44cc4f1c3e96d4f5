import type { EvidenceRecord } from "../runtime/evidence/mod.ts";
import { Executor } from "../runtime/executor/mod.ts";
import { _ReplayBackend, type ReplayDivergence } from "./_replay_backend.ts";

export type { ReplayDivergence };

/** What {@linkcode replayRun} found. */
export interface ReplayResult {
  /** True when the program made the recorded calls and ended the same way. */
  reproduced: boolean;
  /** The first call that differs, or null. */
  divergence: ReplayDivergence | null;
  /** The replay's own evidence record. */
  evidence: EvidenceRecord;
  /** Why it was not reproduced, in one line (empty when it was). */
  message: string;
}

/** Options of {@linkcode replayRun}. */
export interface ReplayRunOptions {
  /** Replay this source instead of the recorded one (did a change keep the behaviour?). */
  source?: string | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Re-runs a recorded program against the recorded skill results, in the
 * same sandbox and with the same caps as the robot: deterministic, no
 * robot and no simulator needed. Postconditions are not re-run (they query
 * the live world).
 */
export async function replayRun(
  record: EvidenceRecord,
  options: ReplayRunOptions = {},
): Promise<ReplayResult> {
  await using backend = new _ReplayBackend(record);
  await using executor = await Executor.create({
    backend,
    robotId: record.robotId,
    caps: {
      timeoutMs: record.resources.timeoutMs,
      memoryBytes: record.resources.memoryLimitBytes,
    },
  });
  const evidence = await executor.run({
    source: options.source ?? record.program.source,
    instruction: record.program.instruction,
    programId: record.program.programId,
    version: record.program.version,
    keyId: record.program.keyId,
  }, options.signal === undefined ? {} : { signal: options.signal });
  const divergence = backend.finish();
  // Without checks the replay cannot see a postcondition failure: compare
  // it with the program's own ending.
  const recordedLabel = record.failure?.label === "postcondition_failed"
    ? null
    : record.failure?.label ?? null;
  const recordedOutcome = record.failure?.label === "postcondition_failed"
    ? "succeeded"
    : record.outcome;
  const label = evidence.failure?.label ?? null;
  let message = "";
  if (divergence !== null) {
    const show = (c: { skill: string; args: unknown[] } | null) =>
      c === null
        ? "no call"
        : `${c.skill}(${c.args.map((a) => JSON.stringify(a)).join(", ")})`;
    message = `call ${divergence.seq} differs: recorded ${
      show(divergence.expected)
    }, replayed ${show(divergence.actual)}`;
  } else if (evidence.outcome !== recordedOutcome || label !== recordedLabel) {
    message = `the run ended ${evidence.outcome}${
      label === null ? "" : ` (${label})`
    }, recorded ${recordedOutcome}${
      recordedLabel === null ? "" : ` (${recordedLabel})`
    }`;
  }
  return { reproduced: message === "", divergence, evidence, message };
}
