import type { EvidenceRecord } from "../../runtime/evidence/mod.ts";

/** Test helper: a plausible evidence record, overridable. */
export function _testRecord(
  overrides: Partial<EvidenceRecord> & { runId: string },
): EvidenceRecord {
  const startedAt = overrides.startedAt ?? "2026-11-30T10:00:00.000Z";
  return {
    robotId: "arm-01",
    startedAt,
    endedAt: startedAt,
    program: {
      sha256: "ab".repeat(32),
      source: 'pick("red_block");\nplace("blue_bowl");',
      instruction: "put the red block in the blue bowl",
      programId: "pick-red",
      version: 1,
      keyId: "k1",
    },
    verifier: { ok: true, issues: [] },
    worldBefore: null,
    worldAfter: null,
    calls: [],
    checks: [],
    outcome: "succeeded",
    failure: null,
    resources: {
      wallMs: 3,
      skillCalls: 0,
      memoryLimitBytes: 1 << 25,
      timeoutMs: 30_000,
    },
    ...overrides,
  };
}
