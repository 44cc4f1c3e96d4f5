import { assert, assertEquals } from "../../test/_assert.ts";
import { boundRecord } from "./bound_record.ts";
import { buildRecord } from "./build_record.ts";
import type { CallRecord, EvidenceRecord } from "./evidence_record.ts";

const _encoder = new TextEncoder();
const _size = (record: EvidenceRecord) =>
  _encoder.encode(JSON.stringify(record)).byteLength;

function _record(calls: CallRecord[], source = 'say("hi");'): EvidenceRecord {
  return buildRecord({
    runId: "r1",
    robotId: "arm-01",
    startedAt: "2026-01-01T00:00:00.000Z",
    program: {
      sha256: "0".repeat(64),
      source,
      instruction: "talk",
      programId: "talk",
      version: 1,
      keyId: "k1",
    },
    verifier: { ok: true, issues: [] },
    worldBefore: { objects: [], holding: null },
    limits: { memoryLimitBytes: 1, timeoutMs: 1 },
  }, {
    endedAt: "2026-01-01T00:00:01.000Z",
    worldAfter: { objects: [], holding: null },
    calls,
    checks: [],
    outcome: "succeeded",
    failure: null,
    wallMs: 1000,
  });
}

const _say = (seq: number, text: string): CallRecord => ({
  seq,
  skill: "say",
  args: [text],
  ok: true,
  result: null,
  startMs: seq,
  durationMs: 0,
});

Deno.test("boundRecord returns a record within the bound as is", () => {
  const record = _record([_say(1, "hello")]);
  assert(boundRecord(record) === record);
});

Deno.test("boundRecord keeps the first and last 50 calls and cuts long say() texts", () => {
  const calls = Array.from(
    { length: 999 },
    (_, i) => _say(i + 1, `${i}:`.padEnd(2000, "é")),
  );
  const record = _record(calls);
  const bounded = boundRecord(record, 262_144);
  assert(_size(bounded) <= 262_144, String(_size(bounded)));
  assertEquals(bounded.calls.length, 100);
  assertEquals(bounded.calls[0]?.seq, 1);
  assertEquals(bounded.calls[49]?.seq, 50);
  assertEquals(bounded.calls[50]?.seq, 950);
  assertEquals(bounded.calls.at(-1)?.seq, 999);
  assertEquals(bounded.truncated?.calls, 899);
  assertEquals(bounded.truncated?.issues, 0);
  assertEquals(bounded.truncated?.bytes, _size(record) - _size(bounded));
  assertEquals(bounded.resources.skillCalls, 999);
  // The original is untouched.
  assertEquals(record.calls.length, 999);
  assertEquals(record.truncated, undefined);
});

Deno.test("boundRecord cuts the source and messages, and honours small bounds", () => {
  const record = _record([_say(1, "x")], "/*" + "y".repeat(500_000) + "*/");
  record.failure = { label: "program_error", message: "m".repeat(100_000) };
  record.outcome = "failed";
  record.verifier.issues = Array.from({ length: 100 }, (_, i) => ({
    code: "bad_argument",
    message: "z".repeat(5_000),
    line: i + 1,
    column: 1,
  }));
  for (const max of [262_144, 65_536, 16_384, 4_096, 1_024]) {
    const bounded = boundRecord(record, max);
    assert(_size(bounded) <= max, `${_size(bounded)} > ${max}`);
    assertEquals(bounded.runId, "r1");
    assertEquals(bounded.failure?.label, "program_error");
    assert(bounded.truncated !== undefined);
  }
});

Deno.test("boundRecord applied again to a smaller bound adds up what was left out", () => {
  const calls = Array.from(
    { length: 300 },
    (_, i) => _say(i + 1, "w".repeat(2000)),
  );
  const record = _record(calls);
  const first = boundRecord(record, 200_000);
  const second = boundRecord(first, 50_000);
  assert(_size(second) <= 50_000);
  assertEquals(second.truncated?.calls, 200);
  assertEquals(second.truncated?.bytes, _size(record) - _size(second));
});
