import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { MqttConfigSchema } from "./mqtt_config.ts";
import { MqttTelemetry } from "./mqtt_telemetry.ts";
import { Outbox } from "./outbox.ts";

Deno.test("MqttConfigSchema fills defaults", () => {
  const config = MqttConfigSchema.parse({ url: "mqtt://127.0.0.1:1883" });
  assertEquals(config, {
    url: "mqtt://127.0.0.1:1883",
    topicPrefix: "cap/v1",
    heartbeatMs: 5_000,
    reconnectMinMs: 500,
    reconnectMaxMs: 30_000,
    maxInFlight: 64,
    maxInboundBytes: 65_536,
    outbox: {
      maxRecords: 10_000,
      synchronous: "normal",
      syncIntervalMs: 1_000,
    },
  });
});

Deno.test("MqttConfigSchema accepts TLS and names bad fields", () => {
  const config = MqttConfigSchema.parse({
    url: "mqtts://broker:8883",
    topicPrefix: "fleet/eu/cap",
    tls: { ca: "/etc/cap-edge/ca.pem" },
    outbox: { maxRecords: 50 },
  });
  assertEquals(config.tls, {
    ca: "/etc/cap-edge/ca.pem",
    rejectUnauthorized: true,
  });
  assertEquals(config.outbox.maxRecords, 50);
  for (
    const [input, path] of [
      [{ url: "http://x" }, "url"],
      [{ url: "mqtt://x", topicPrefix: "cap/+/v1" }, "topicPrefix"],
      [{ url: "mqtt://x", topicPrefix: "/cap" }, "topicPrefix"],
      [{ url: "mqtt://x", heartbeatMs: 0 }, "heartbeatMs"],
      [{ url: "mqtt://x", outbox: { maxRecords: -1 } }, "outbox.maxRecords"],
      [{ url: "mqtt://x", tls: { rejectUnauthorised: false } }, "tls"],
      [{ url: "mqtt://x", prefix: "cap/v1" }, ""],
    ] as const
  ) {
    const result = MqttConfigSchema.safeParse(input);
    assert(!result.success, JSON.stringify(input));
    assertEquals(result.error.issues[0]!.path.join("."), path);
  }
});

Deno.test("MqttConfig spreads into MqttTelemetry options", async () => {
  const config = MqttConfigSchema.parse({ url: "mqtt://127.0.0.1:1" });
  using outbox = Outbox.open(":memory:");
  await using telemetry = new MqttTelemetry({
    ...config,
    robotId: "arm-01",
    outbox,
    status: () => ({ state: "online", currentRunId: null }),
  });
  assertEquals(telemetry.topics.status, "cap/v1/robots/arm-01/status");
});
