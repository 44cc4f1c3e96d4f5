import { join } from "node:path";
import { assert, assertEquals } from "../../test/_assert.ts";
import type { CallRecord } from "../evidence/mod.ts";
import { _testRecordStart } from "./_test_record_start.ts";
import { EvidenceJournal } from "./evidence_journal.ts";
import { openStateFile } from "./open_state_file.ts";
import { ReplayState } from "./replay_state.ts";

const _start = _testRecordStart;

const _call = (seq: number, ok: boolean): CallRecord => ({
  seq,
  skill: "say",
  args: ["x"],
  ok,
  startMs: seq,
  durationMs: ok ? 1 : 0,
});

Deno.test("EvidenceJournal keeps begun runs and their calls across a reopen; finished ones come back as final; forgotten ones not at all", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "journal.sqlite");
    // Left open while the file is read again, as after a crash.
    const journal = EvidenceJournal.open(path, { flushMs: 0 });
    {
      journal.begin(_start("a"));
      journal.call("a", _call(1, true));
      journal.call("a", _call(2, false));
      journal.call("a", _call(2, true));
      journal.flush();
      journal.begin(_start("b"));
      journal.finish({
        ..._start("b"),
        endedAt: "",
        worldAfter: null,
        calls: [],
        checks: [],
        outcome: "succeeded",
        failure: null,
        resources: {
          wallMs: 0,
          skillCalls: 0,
          memoryLimitBytes: 1,
          timeoutMs: 1,
        },
      });
      journal.begin(_start("c"));
      journal.forget("c");
      journal.flush();
    }
    using reopened = EvidenceJournal.open(path);
    const entries = reopened.unfinished();
    journal.close();
    assertEquals(entries.map((e) => [e.start.runId, e.final?.runId ?? null]), [
      ["a", null],
      ["b", "b"],
    ]);
    assertEquals(entries[0]!.calls.map((c) => [c.seq, c.ok]), [[1, true], [
      2,
      true,
    ]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openStateFile sets aside a file that is not a database and opens a fresh one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "replay.sqlite");
    await Deno.writeTextFile(path, "this is not a database ".repeat(400));
    const logged: string[] = [];
    const { value, setAside } = openStateFile(
      path,
      (p) => ReplayState.open(p),
      { what: "replay state", log: (_level, message) => logged.push(message) },
    );
    using replay = value;
    assert(setAside !== null);
    assert(setAside.movedTo !== null);
    assertEquals(
      await Deno.readTextFile(setAside.movedTo),
      "this is not a database ".repeat(400),
    );
    assert(logged[0]?.includes("set aside the replay state"));
    assert(replay.fresh);
    assertEquals(replay.seenNonce("n", Date.now() + 60_000), false);
    assertEquals(replay.seenNonce("n", Date.now() + 60_000), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ReplayState only raises versions, keeps nonces until they expire, and survives a reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "replay.sqlite");
    let now = 1_000_000;
    {
      using replay = ReplayState.open(path, { now: () => now });
      assert(replay.fresh);
      replay.accept("p", { version: 3, payloadSha256: "c" });
      replay.accept("p", { version: 2, payloadSha256: "b" });
      assertEquals(replay.seenNonce("n1", now + 1000), false);
    }
    using replay = ReplayState.open(path, { now: () => now });
    assertEquals(replay.fresh, false);
    assertEquals(replay.lastAccepted("p"), { version: 3, payloadSha256: "c" });
    assertEquals(replay.seenNonce("n1", now + 1000), true);
    now += 2000;
    // Expired: its time window refuses the command anyway.
    assertEquals(replay.seenNonce("n1", now + 1000), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
