import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "../../test/_assert.ts";
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

/**
 * Opens the journal at `path` and recovers what it holds into `cache`, as a
 * start does: the runs queued for the fleet, and the log's lines.
 */
async function recoverFrom(
  path: string,
  cache: ProgramCache,
): Promise<{ queued: string[]; logs: string[] }> {
  const queued: string[] = [];
  const logs: string[] = [];
  using journal = EvidenceJournal.open(path, { flushMs: 0 });
  const keeper = new EvidenceKeeper({
    store: cache,
    journal,
    queue: (evidence) => queued.push(evidence.runId),
    log: (level, message) => logs.push(`${level}: ${message}`),
  });
  await using backend = new SimBackend(parseScene({ seed: 1, objects: [] }));
  await keeper.recover(backend);
  return { queued, logs };
}

/** Runs `body` with a journal path and a program cache in a fresh directory. */
async function withState(
  body: (path: string, cache: ProgramCache) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    using cache = ProgramCache.open(join(dir, "cache.sqlite"));
    await body(join(dir, "journal.sqlite"), cache);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a record stored just before a crash is stored once when the journal's recovery keeps it again", async () => {
  await withState(async (path, cache) => {
    {
      // The run ended: its final record is journaled and stored, and the
      // service dies before the journal forgets the run.
      using journal = EvidenceJournal.open(path, { flushMs: 0 });
      journal.begin(start);
      journal.finish(final);
      journal.flush();
      cache.recordEvidence(final);
    }
    const { queued } = await recoverFrom(path, cache);
    // Sent again to the fleet (at least once), kept once here.
    assertEquals(queued, ["run-1"]);
    assertEquals(cache.recentEvidence(10).map((r) => r.runId), ["run-1"]);
  });
});

Deno.test("an unreadable journal row is logged and dropped; the other interrupted runs are recovered, once", async () => {
  await withState(async (path, cache) => {
    {
      using journal = EvidenceJournal.open(path, { flushMs: 0 });
      journal.begin(_testRecordStart("run-good"));
      journal.flush();
    }
    {
      // What a disk fault or a hand edit may leave: text that is no JSON,
      // and JSON that is no record start.
      const db = new DatabaseSync(path);
      const insert = db.prepare(
        "INSERT INTO runs (run_id, start, final) VALUES (?, ?, NULL)",
      );
      insert.run("run-garbled", "{not json");
      insert.run("run-empty", "{}");
      db.close();
    }
    const first = await recoverFrom(path, cache);
    assertEquals(first.queued, ["run-good"]);
    assertEquals(cache.recentEvidence(10).map((r) => r.runId), ["run-good"]);
    for (const runId of ["run-garbled", "run-empty"]) {
      assert(
        first.logs.some((line) =>
          line.startsWith("error:") && line.includes(runId)
        ),
        `${runId} not named in ${first.logs.join("\n")}`,
      );
    }
    // The next start finds nothing more to recover.
    const second = await recoverFrom(path, cache);
    assertEquals(second.queued, []);
    assertEquals(second.logs.filter((line) => line.startsWith("error:")), []);
  });
});
