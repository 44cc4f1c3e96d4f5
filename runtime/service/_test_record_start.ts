import type { RecordStart } from "../evidence/mod.ts";

/** A run's record start for the journal's and the keeper's tests. */
export function _testRecordStart(runId: string): RecordStart {
  return {
    runId,
    robotId: "arm-01",
    startedAt: "2026-01-01T00:00:00.000Z",
    program: {
      sha256: "",
      source: "say('x')",
      instruction: null,
      programId: "p",
      version: 1,
      keyId: "k1",
    },
    verifier: { ok: true, issues: [] },
    worldBefore: { objects: [], holding: null },
    limits: { memoryLimitBytes: 1, timeoutMs: 1 },
  };
}
