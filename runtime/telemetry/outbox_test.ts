import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { join } from "node:path";
import { Outbox, OutboxFullError } from "./outbox.ts";
import { ClosedError } from "../../skills-bridge/mod.ts";

const _decoder = new TextDecoder();

function assertThrows<E extends Error>(
  fn: () => unknown,
  type: abstract new (...args: never[]) => E,
  includes: string,
): E {
  try {
    fn();
  } catch (error) {
    assert(error instanceof type, `expected ${type.name}, got ${error}`);
    assert(error.message.includes(includes), error.message);
    return error;
  }
  throw new Error(`expected ${type.name} to be thrown`);
}

Deno.test("Outbox keeps insertion order and acks remove records", () => {
  using outbox = Outbox.open(":memory:");
  const ids = ["a", "b", "c", "d"].map((p) => outbox.append("t/" + p, p).id);
  assertEquals(ids, [...ids].sort((x, y) => x - y));
  assertEquals(
    outbox.peek(10).map((r) => _decoder.decode(r.payload)),
    ["a", "b", "c", "d"],
  );
  assertEquals(outbox.peek(2).map((r) => r.topic), ["t/a", "t/b"]);
  assertEquals(
    outbox.peek(10, { afterId: ids[1]! }).map((r) => r.topic),
    ["t/c", "t/d"],
  );
  assert(outbox.ack(ids[1]!));
  assertEquals(outbox.delete(ids[1]!), false, "second ack is a no-op");
  assertEquals(outbox.depth(), 3);
  assertEquals(outbox.deleteMany([ids[0]!, ids[3]!, 999]), 2);
  assertEquals(outbox.peek(10).map((r) => r.topic), ["t/c"]);
  const next = outbox.append("t/e", new Uint8Array([1, 2, 3]), {
    kind: "evidence",
  });
  assert(next.id > ids[3]!, "ids are never reused");
  const last = outbox.peek(10).at(-1)!;
  assertEquals(last.kind, "evidence");
  assertEquals([...last.payload], [1, 2, 3]);
});

Deno.test("Outbox records survive closing and reopening the file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "outbox.sqlite");
    {
      using outbox = Outbox.open(path);
      for (let i = 0; i < 5; i++) outbox.append("t", `r${i}`);
      outbox.ack(outbox.peek(1)[0]!.id);
    }
    using reopened = Outbox.open(path);
    assertEquals(reopened.depth(), 4);
    assertEquals(
      reopened.peek(10).map((r) => _decoder.decode(r.payload)),
      ["r1", "r2", "r3", "r4"],
    );
    assertEquals(reopened.stats().bytes, 8);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Outbox refuses appends when full and never drops", () => {
  using outbox = Outbox.open(":memory:", { maxRecords: 3, maxBytes: 100 });
  for (let i = 0; i < 3; i++) outbox.append("t", "x");
  assert(outbox.isFull());
  const error = assertThrows(
    () => outbox.append("t", "y"),
    OutboxFullError,
    "holds 3 records",
  );
  assertEquals(error.depth, 3);
  assertEquals(outbox.depth(), 3);
  assertEquals(outbox.stats().rejected, 1);
  outbox.ack(outbox.peek(1)[0]!.id);
  outbox.append("t", "y");
  assertEquals(outbox.depth(), 3);

  using small = Outbox.open(":memory:", { maxBytes: 10 });
  small.append("t", "12345678");
  assertThrows(() => small.append("t", "123"), OutboxFullError, "exceed");
  small.append("t", "12");
  assertEquals(small.stats().full, true);
});

Deno.test("Outbox reports depth and the age of the oldest record", () => {
  let now = 1_000;
  using outbox = Outbox.open(":memory:", { now: () => now });
  assertEquals(outbox.oldestAgeMs(), 0);
  outbox.append("t", "a");
  now = 1_500;
  outbox.append("t", "b");
  now = 4_000;
  assertEquals(outbox.oldestAgeMs(), 3_000);
  outbox.ack(outbox.peek(1)[0]!.id);
  assertEquals(outbox.oldestAgeMs(), 2_500);
  const stats = outbox.stats();
  assertEquals(
    [stats.depth, stats.appended, stats.deleted, stats.full],
    [1, 2, 1, false],
  );
});

Deno.test("Outbox rejects bad options and use after close", () => {
  assertThrows(
    () => Outbox.open(":memory:", { maxRecords: 0 }),
    RangeError,
    "maxRecords must be a positive integer, got 0",
  );
  const outbox = Outbox.open(":memory:");
  outbox.close();
  outbox.close();
  assert(outbox.closed);
  assertThrows(
    () => outbox.append("t", "x"),
    ClosedError,
    "is closed",
  );
});

Deno.test("Outbox in normal mode fsyncs by a checkpoint within syncIntervalMs; full mode needs none", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cap-outbox-sync-" });
  try {
    for (const synchronous of ["normal", "full"] as const) {
      const path = join(dir, `${synchronous}.sqlite`);
      using outbox = Outbox.open(path, { synchronous, syncIntervalMs: 20 });
      assertEquals(outbox.stats().synchronous, synchronous);
      const before = (await Deno.stat(path)).size;
      outbox.append("t", new Uint8Array(64 * 1024));
      // The record sits in the WAL; only a checkpoint copies it into the
      // database file (after fsyncing the WAL).
      assertEquals((await Deno.stat(path)).size, before);
      if (synchronous === "normal") {
        // The checkpoint timer copies it in: wait for that, bounded.
        const deadline = Date.now() + 5_000;
        let after = before;
        while (after < before + 64 * 1024 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          after = (await Deno.stat(path)).size;
        }
        assert(after >= before + 64 * 1024, `checkpointed: ${after}`);
      } else {
        // FULL syncs the WAL on commit and schedules no checkpoint timer.
        assertEquals(outbox.stats().synchronous, "full");
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Outbox refuses an unknown synchronous mode", () => {
  assertThrows(
    () =>
      Outbox.open(":memory:", {
        synchronous: "off" as unknown as "full",
      }),
    RangeError,
    'synchronous must be "normal" or "full", got "off"',
  );
  assertThrows(
    () => Outbox.open(":memory:", { syncIntervalMs: 0 }),
    RangeError,
    "syncIntervalMs must be a positive integer, got 0",
  );
});
