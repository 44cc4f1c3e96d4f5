import { assertEquals } from "../../test/_assert.ts";
import type { EvidenceRecord } from "../evidence/mod.ts";
import { ProgramCache } from "./program_cache.ts";

/** A record with what the local store indexes; the rest does not matter here. */
function record(runId: string, outcome: EvidenceRecord["outcome"]) {
  return {
    runId,
    robotId: "arm-01",
    startedAt: "2026-12-01T00:00:00.000Z",
    endedAt: "2026-12-01T00:00:01.000Z",
    program: {
      sha256: "0".repeat(64),
      source: 'say("hi");',
      instruction: null,
      programId: outcome === "rejected" ? null : "p",
      version: null,
      keyId: null,
    },
    outcome,
  } as unknown as EvidenceRecord;
}

Deno.test("a flood of refused deliveries does not push the records of runs out of the local store", () => {
  using cache = ProgramCache.open(":memory:", { evidenceRetention: 3 });
  for (const id of ["run-1", "run-2", "run-3"]) {
    cache.recordEvidence(record(id, id === "run-2" ? "stopped" : "succeeded"));
  }
  for (let i = 0; i < 50; i++) {
    cache.recordEvidence(record(`junk-${i}`, "rejected"));
  }
  const kept = cache.recentEvidence(100).map((r) => r.runId);
  // The runs, and the newest refused ones (at most evidenceRetention).
  assertEquals(kept, [
    "junk-49",
    "junk-48",
    "junk-47",
    "run-3",
    "run-2",
    "run-1",
  ]);
  // Runs still trim among themselves, newest kept.
  cache.recordEvidence(record("run-4", "failed"));
  assertEquals(
    cache.recentEvidence(100).filter((r) => r.outcome !== "rejected").map((
      r,
    ) => r.runId),
    ["run-4", "run-3", "run-2"],
  );
});

Deno.test("the local store keeps at most 100 refused deliveries, whatever evidenceRetention", () => {
  using cache = ProgramCache.open(":memory:", { evidenceRetention: 1000 });
  cache.recordEvidence(record("run-1", "succeeded"));
  for (let i = 0; i < 150; i++) {
    cache.recordEvidence(record(`junk-${i}`, "rejected"));
  }
  const kept = cache.recentEvidence(1000);
  assertEquals(kept.filter((r) => r.outcome === "rejected").length, 100);
  assertEquals(kept.at(0)?.runId, "junk-149");
  assertEquals(kept.at(-1)?.runId, "run-1");
});

Deno.test("a run's record kept again, as the journal's recovery does after a crash, is stored once", () => {
  using cache = ProgramCache.open(":memory:", { evidenceRetention: 3 });
  cache.recordEvidence(record("run-1", "succeeded"));
  cache.recordEvidence(record("run-2", "failed"));
  // The service died after storing run-2 but before its journal knew: its
  // recovery keeps the record again, once.
  cache.recordEvidence(record("run-2", "failed"), { once: true });
  assertEquals(cache.recentEvidence(100).map((r) => r.runId), [
    "run-2",
    "run-1",
  ]);
  // Nor does the copy count against the runs kept.
  cache.recordEvidence(record("run-3", "succeeded"), { once: true });
  assertEquals(cache.recentEvidence(100).map((r) => r.runId), [
    "run-3",
    "run-2",
    "run-1",
  ]);
});
