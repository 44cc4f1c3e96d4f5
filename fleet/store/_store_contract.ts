import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import type { FleetStore } from "./fleet_store.ts";
import { _testRecord } from "./_test_record.ts";

/** Options of {@linkcode _runStoreContract}. */
export interface _StoreContractOptions {
  /** A fresh, empty store for each step. */
  newStore: () => Promise<FleetStore>;
  /** Opens the same database again (migrations are idempotent). */
  reopen?: (store: FleetStore) => Promise<FleetStore>;
}

/**
 * The one contract every fleet store passes: run inside a `Deno.test` with
 * `t.step`s, once for SQLite and once for PostgreSQL.
 */
export async function _runStoreContract(
  t: Deno.TestContext,
  options: _StoreContractOptions,
): Promise<void> {
  await t.step("stores each record once by runId", async () => {
    await using store = await options.newStore();
    const a = _testRecord({ runId: "r1" });
    deepEqual(await store.putRuns([a, a]), ["r1"]);
    deepEqual(await store.putRuns([a, _testRecord({ runId: "r2" })]), ["r2"]);
    deepEqual(await store.putRuns([a]), []);
    const page = await store.listRuns();
    deepEqual(page.runs.map((r) => r.runId).sort(), ["r1", "r2"]);
    deepEqual(await store.getRun("r1"), a);
    equal(await store.getRun("nope"), null);
    const [robot] = await store.listRobots();
    equal(robot?.runs, 2);
  });

  await t.step("filters by robot, label, program, outcome, since", async () => {
    await using store = await options.newStore();
    await store.putRuns([
      _testRecord({ runId: "a", startedAt: "2026-11-01T00:00:00.000Z" }),
      _testRecord({
        runId: "b",
        robotId: "arm-02",
        startedAt: "2026-11-02T00:00:00.000Z",
        outcome: "failed",
        failure: { label: "skill_failed", message: "grasp", line: 2 },
      }),
      _testRecord({
        runId: "c",
        startedAt: "2026-11-03T00:00:00.000Z",
        program: {
          sha256: "cd".repeat(32),
          source: "say('x')",
          instruction: null,
          programId: "other",
          version: 3,
          keyId: null,
        },
        outcome: "stopped",
        failure: { label: "estop", message: "stop" },
      }),
    ]);
    const ids = async (q: Parameters<FleetStore["listRuns"]>[0]) =>
      (await store.listRuns(q)).runs.map((r) => r.runId);
    deepEqual(await ids({}), ["c", "b", "a"]);
    deepEqual(await ids({ robot: "arm-02" }), ["b"]);
    deepEqual(await ids({ label: "estop" }), ["c"]);
    deepEqual(await ids({ program: "pick-red" }), ["b", "a"]);
    deepEqual(await ids({ outcome: "failed" }), ["b"]);
    deepEqual(
      await ids({ sinceMs: Date.parse("2026-11-02T00:00:00.000Z") }),
      ["c", "b"],
    );
    deepEqual(await ids({ robot: "arm-01", label: "skill_failed" }), []);
    const b = (await store.listRuns({ robot: "arm-02" })).runs[0];
    deepEqual(b, {
      runId: "b",
      robotId: "arm-02",
      programId: "pick-red",
      version: 1,
      outcome: "failed",
      label: "skill_failed",
      line: 2,
      startedAt: "2026-11-02T00:00:00.000Z",
      endedAt: "2026-11-02T00:00:00.000Z",
    });
  });

  await t.step("pages newest first with a cursor", async () => {
    await using store = await options.newStore();
    const records = Array.from({ length: 25 }, (_, i) =>
      _testRecord({
        runId: `run-${String(i).padStart(2, "0")}`,
        // Pairs share a start time: the cursor must break ties by runId.
        startedAt: new Date(Date.UTC(2026, 10, 1, 0, 0, Math.floor(i / 2)))
          .toISOString(),
      }));
    await store.putRuns(records);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await store.listRuns({ limit: 7, cursor });
      seen.push(...page.runs.map((r) => r.runId));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    deepEqual(seen, records.map((r) => r.runId).reverse());
    await rejects(() => store.listRuns({ limit: 0 }), RangeError);
    await rejects(() => store.listRuns({ cursor: "garbage" }), TypeError);
  });

  await t.step("keeps each robot's latest status and heartbeat", async () => {
    await using store = await options.newStore();
    await store.putRobot({
      kind: "status",
      robotId: "arm-01",
      status: "online",
      atMs: 1000,
    });
    await store.putRobot({
      kind: "telemetry",
      robotId: "arm-01",
      atMs: 2000,
      status: "running",
      currentRunId: "r9",
      outboxDepth: 3,
      outboxOldestAgeMs: 40,
    });
    let [robot] = await store.listRobots();
    deepEqual(robot, {
      robotId: "arm-01",
      status: "running",
      lastSeen: new Date(2000).toISOString(),
      currentRunId: "r9",
      outboxDepth: 3,
      outboxOldestAgeMs: 40,
      lastRunId: null,
      lastOutcome: null,
      lastLabel: null,
      runs: 0,
      grpc: null,
    });
    // The announced gRPC endpoint is kept until another one is announced.
    const beat = {
      kind: "telemetry",
      robotId: "arm-01",
      atMs: 2000,
      status: "running",
      currentRunId: "r9",
      outboxDepth: 3,
      outboxOldestAgeMs: 40,
    } as const;
    await store.putRobot({
      ...beat,
      grpc: { address: "10.0.0.7:50051", tls: true, clientAuth: false },
    });
    await store.putRobot(beat);
    [robot] = await store.listRobots();
    deepEqual(robot?.grpc, {
      address: "10.0.0.7:50051",
      tls: true,
      clientAuth: false,
    });
    await store.putRobot({
      ...beat,
      grpc: { address: null, tls: false, clientAuth: false },
    });
    [robot] = await store.listRobots();
    deepEqual(robot?.grpc, { address: null, tls: false, clientAuth: false });
    await store.putRuns([
      _testRecord({
        runId: "r9",
        outcome: "failed",
        failure: { label: "timeout", message: "deadline" },
      }),
    ]);
    [robot] = await store.listRobots();
    equal(robot?.currentRunId, null);
    equal(robot?.lastRunId, "r9");
    equal(robot?.lastLabel, "timeout");
    equal(robot?.runs, 1);
    // An older run arriving late does not replace the latest one.
    await store.putRuns([
      _testRecord({ runId: "r0", startedAt: "2020-01-01T00:00:00.000Z" }),
    ]);
    [robot] = await store.listRobots();
    equal(robot?.lastRunId, "r9");
    equal(robot?.runs, 2);
    await store.putRobot({
      kind: "status",
      robotId: "arm-01",
      status: "offline",
      atMs: 3000,
    });
    [robot] = await store.listRobots();
    equal(robot?.status, "offline");
    equal(robot?.outboxDepth, 3);
  });

  await t.step("counts runs and labels per robot and per day", async () => {
    await using store = await options.newStore();
    await store.putRuns([
      _testRecord({ runId: "1", startedAt: "2026-11-01T10:00:00.000Z" }),
      _testRecord({
        runId: "2",
        startedAt: "2026-11-01T11:00:00.000Z",
        outcome: "failed",
        failure: { label: "skill_failed", message: "x" },
      }),
      _testRecord({
        runId: "3",
        robotId: "arm-02",
        startedAt: "2026-11-02T11:00:00.000Z",
        outcome: "failed",
        failure: { label: "skill_failed", message: "x" },
      }),
    ]);
    const stats = await store.stats();
    equal(stats.total, 3);
    deepEqual(stats.byLabel, { skill_failed: 2 });
    deepEqual(stats.byOutcome, { succeeded: 1, failed: 2 });
    deepEqual(stats.perDay, [
      { day: "2026-11-01", runs: 2, byLabel: { skill_failed: 1 } },
      { day: "2026-11-02", runs: 1, byLabel: { skill_failed: 1 } },
    ]);
    deepEqual(stats.perRobot.map((r) => [r.robotId, r.runs]), [
      ["arm-01", 2],
      ["arm-02", 1],
    ]);
    equal((await store.stats({ robot: "arm-02" })).total, 1);
  });

  if (options.reopen !== undefined) {
    await t.step("reopening keeps the data and migrates once", async () => {
      const store = await options.newStore();
      await store.putRuns([_testRecord({ runId: "kept" })]);
      const again = await options.reopen!(store);
      try {
        ok(await again.getRun("kept"));
      } finally {
        await again.close();
      }
    });
  }

  await t.step("refuses use after close", async () => {
    const store = await options.newStore();
    await store.close();
    await store.close();
    await rejects(() => store.listRuns(), { name: "StoreClosedError" });
  });
}
