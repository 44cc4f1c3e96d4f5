import { deepEqual, equal } from "node:assert/strict";
import { _testRecord } from "../store/_test_record.ts";
import { parseRobotMessage } from "./parse_robot_message.ts";

const enc = (value: unknown) =>
  new TextEncoder().encode(
    typeof value === "string" ? value : JSON.stringify(value),
  );

Deno.test("parseRobotMessage reads status, heartbeats and evidence", () => {
  deepEqual(
    parseRobotMessage(
      "cap/v1",
      "cap/v1/robots/arm-01/status",
      enc("online"),
      5,
    ),
    {
      kind: "robot",
      update: { kind: "status", robotId: "arm-01", status: "online", atMs: 5 },
    },
  );
  deepEqual(
    parseRobotMessage(
      "cap/v1",
      "cap/v1/robots/arm-01/telemetry",
      enc({
        state: "running",
        currentRunId: "r1",
        outbox: { depth: 2, oldestAgeMs: 30 },
      }),
      7,
    ),
    {
      kind: "robot",
      update: {
        kind: "telemetry",
        robotId: "arm-01",
        atMs: 7,
        status: "running",
        currentRunId: "r1",
        outboxDepth: 2,
        outboxOldestAgeMs: 30,
      },
    },
  );
  const announced = parseRobotMessage(
    "cap/v1",
    "cap/v1/robots/arm-01/telemetry",
    enc({
      state: "online",
      grpc: { address: "10.0.0.7:50051", tls: true, clientAuth: true },
    }),
    8,
  );
  deepEqual(
    announced.kind === "robot" && announced.update.kind === "telemetry"
      ? announced.update.grpc
      : undefined,
    { address: "10.0.0.7:50051", tls: true, clientAuth: true },
  );
  const unusable = parseRobotMessage(
    "cap/v1",
    "cap/v1/robots/arm-01/telemetry",
    enc({ state: "online", grpc: { address: "not an address", tls: "yes" } }),
    9,
  );
  deepEqual(
    unusable.kind === "robot" && unusable.update.kind === "telemetry"
      ? unusable.update.grpc
      : undefined,
    { address: null, tls: false, clientAuth: false },
  );
  const record = _testRecord({ runId: "r1" });
  deepEqual(
    parseRobotMessage(
      "cap/v1",
      "cap/v1/robots/arm-01/evidence",
      enc(record),
      0,
    ),
    { kind: "evidence", record },
  );
});

Deno.test("parseRobotMessage ignores what it cannot trust, saying why", () => {
  const ignored = (topic: string, payload: unknown) => {
    const message = parseRobotMessage("cap/v1", topic, enc(payload), 0);
    equal(message.kind, "ignored", JSON.stringify(message));
    return message.kind === "ignored" ? message.reason : "";
  };
  const announced = parseRobotMessage(
    "cap/v1",
    "cap/v1/robots/arm-01/telemetry",
    enc({
      state: "online",
      grpc: { address: "10.0.0.7:50051", tls: true, clientAuth: true },
    }),
    8,
  );
  deepEqual(
    announced.kind === "robot" && announced.update.kind === "telemetry"
      ? announced.update.grpc
      : undefined,
    { address: "10.0.0.7:50051", tls: true, clientAuth: true },
  );
  const unusable = parseRobotMessage(
    "cap/v1",
    "cap/v1/robots/arm-01/telemetry",
    enc({ state: "online", grpc: { address: "not an address", tls: "yes" } }),
    9,
  );
  deepEqual(
    unusable.kind === "robot" && unusable.update.kind === "telemetry"
      ? unusable.update.grpc
      : undefined,
    { address: null, tls: false, clientAuth: false },
  );
  const record = _testRecord({ runId: "r1" });
  ignored("other/robots/arm-01/status", "online");
  ignored("cap/v1/robots/arm-01/status", "<script>");
  ignored("cap/v1/robots/arm-01/telemetry", "[1]");
  equal(
    ignored("cap/v1/robots/arm-02/evidence", record).includes("robotId"),
    true,
  );
  ignored("cap/v1/robots/arm-01/evidence", { ...record, outcome: "great" });
  ignored("cap/v1/robots/arm-01/evidence", { ...record, runId: "a/b" });
  ignored("cap/v1/robots/arm-01/evidence", "{not json");
  ignored("cap/v1/robots/arm-01/cmd/stop", "{}");
  equal(
    parseRobotMessage(
      "cap/v1",
      "cap/v1/robots/arm-01/status",
      new Uint8Array([0xff, 0xfe]),
      0,
    ).kind,
    "ignored",
  );
});
