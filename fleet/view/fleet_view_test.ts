import { deepStrictEqual as assertEquals, equal } from "node:assert/strict";
import { FleetView } from "./fleet_view.ts";

const P = "cap/v1/robots";

function evidence(runId: string, outcome: string, label?: string): string {
  return JSON.stringify({
    runId,
    outcome,
    failure: label === undefined ? null : { label, message: "x" },
  });
}

Deno.test("FleetView folds status, telemetry, run events and evidence per robot", () => {
  let now = 10_000;
  const view = new FleetView({ now: () => now });
  equal(view.filter, "cap/v1/robots/#");
  equal(view.update(`${P}/arm-01/status`, "online"), true);
  equal(
    view.update(
      `${P}/arm-01/telemetry`,
      JSON.stringify({
        robotId: "arm-01",
        state: "running",
        currentRunId: "r1",
        outbox: { depth: 3, oldestAgeMs: 5, full: false },
      }),
    ),
    true,
  );
  equal(view.update(`${P}/arm-01/runs/r1/events`, '{"type":"call"}'), true);
  assertEquals(view.robots()[0]!.currentRunId, "r1");
  view.update(`${P}/arm-01/evidence`, evidence("r1", "failed", "skill_failed"));
  view.update(`${P}/arm-01/evidence`, evidence("r1", "failed", "skill_failed"));
  view.update(`${P}/arm-01/evidence`, evidence("r2", "failed", "timeout"));
  view.update(`${P}/arm-01/evidence`, evidence("r3", "failed", "skill_failed"));
  view.update(`${P}/arm-01/evidence`, evidence("r4", "succeeded"));
  now = 12_000;
  view.update(`${P}/arm-02/status`, "offline");

  assertEquals(view.robots(), [{
    robotId: "arm-01",
    status: "running",
    currentRunId: null,
    lastRunId: "r4",
    lastOutcome: "succeeded",
    lastFailureLabel: null,
    runs: 4,
    failures: { skill_failed: 2, timeout: 1 },
    outboxDepth: 3,
    lastSeenMs: 10_000,
  }, {
    robotId: "arm-02",
    status: "offline",
    currentRunId: null,
    lastRunId: null,
    lastOutcome: null,
    lastFailureLabel: null,
    runs: 0,
    failures: {},
    outboxDepth: null,
    lastSeenMs: 12_000,
  }]);
  assertEquals(JSON.parse(JSON.stringify(view))[1].robotId, "arm-02");
});

Deno.test("FleetView ignores what it does not understand", () => {
  const view = new FleetView({ topicPrefix: "fleet/eu" });
  equal(view.update("cap/v1/robots/arm-01/status", "online"), false);
  equal(view.update("fleet/eu/robots/arm-01", "online"), false);
  equal(view.update("fleet/eu/robots/arm-01/status", "ON LINE!"), false);
  equal(view.update("fleet/eu/robots/arm-01/telemetry", "{oops"), false);
  equal(view.update("fleet/eu/robots/arm-01/evidence", "[1]"), false);
  equal(view.update("fleet/eu/robots/arm-01/cmd/stop", "{}"), false);
  equal(
    view.update(
      "fleet/eu/robots/arm-01/status",
      new Uint8Array([0xff, 0xfe]),
    ),
    false,
  );
  assertEquals(view.robots(), []);
  equal(view.render(), "no robots seen yet\n");
  equal(
    view.update("fleet/eu/robots/arm-01/status", '{"state":"stopped"}'),
    true,
  );
  equal(view.robots()[0]!.status, "stopped");
});

Deno.test("FleetView renders an aligned table", () => {
  const now = 100_000;
  const view = new FleetView({ now: () => now });
  view.update(`${P}/arm-01/status`, "online");
  view.update(`${P}/arm-01/evidence`, evidence("run-1", "failed", "timeout"));
  view.update(
    `${P}/arm-01/telemetry`,
    JSON.stringify({
      state: "online",
      currentRunId: null,
      outbox: { depth: 0 },
    }),
  );
  view.update(`${P}/gripper-7/status`, "offline");
  equal(
    view.render(),
    [
      "ROBOT      STATUS   RUN  LAST          FAILURE  RUNS  FAILURES   OUTBOX  SEEN",
      "arm-01     online   -    run-1 failed  timeout  1     timeout:1  0       0s ago",
      "gripper-7  offline  -    -             -        0     -          ?       0s ago",
      "",
    ].join("\n"),
  );
});
