import { join } from "node:path";
import { assertEquals } from "../../test/_assert.ts";
import { parseScene, SimBackend } from "../../skills-bridge/mod.ts";
import type { EvidenceRecord } from "../evidence/mod.ts";
import { _testRecordStart } from "./_test_record_start.ts";
import { EvidenceJournal } from "./evidence_journal.ts";
import { EvidenceKeeper } from "./evidence_keeper.ts";
import { ProgramCache } from "./program_cache.ts";

const start = _testRecordStart("run-1");

const final: EvidenceRecord = {
  ...start,
  endedAt: "2026-01-01T00:00:01.000Z",
  worldAfter: null,
  calls: [],
  checks: [],
  outcome: "succeeded",
  failure: null,
  resources: { wallMs: 1, skillCalls: 0, memoryLimitBytes: 1, timeoutMs: 1 },
};

Deno.test("a record stored just before a crash is stored once when the journal's recovery keeps it again", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "journal.sqlite");
    using cache = ProgramCache.open(join(dir, "cache.sqlite"));
    {
      // The run ended: its final record is journaled and stored, and the
      // service dies before the journal forgets the run.
      using journal = EvidenceJournal.open(path, { flushMs: 0 });
      journal.begin(start);
      journal.finish(final);
      journal.flush();
      cache.recordEvidence(final);
    }
    using journal = EvidenceJournal.open(path, { flushMs: 0 });
    const queued: string[] = [];
    const keeper = new EvidenceKeeper({
      store: cache,
      journal,
      queue: (evidence) => queued.push(evidence.runId),
    });
    await using backend = new SimBackend(parseScene({ seed: 1, objects: [] }));
    await keeper.recover(backend);
    // Sent again to the fleet (at least once), kept once here.
    assertEquals(queued, ["run-1"]);
    assertEquals(cache.recentEvidence(10).map((r) => r.runId), ["run-1"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
