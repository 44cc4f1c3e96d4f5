import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startMosquitto } from "../../test/_mosquitto.ts";
import { connectProbe, type ProbeMessage } from "../../test/_mqtt_probe.ts";
import { MqttTelemetry, type MqttTelemetryOptions } from "./mqtt_telemetry.ts";
import { Outbox, OutboxFullError } from "./outbox.ts";

const _REPO = fileURLToPath(new URL("../..", import.meta.url));

function telemetryFor(
  url: string,
  outbox: Outbox,
  extra: Partial<MqttTelemetryOptions> = {},
): MqttTelemetry {
  return new MqttTelemetry({
    url,
    robotId: "arm-01",
    outbox,
    reconnectMinMs: 100,
    reconnectMaxMs: 400,
    status: () => ({ state: "online", currentRunId: null }),
    ...extra,
  });
}

function runIds(messages: ProbeMessage[]): Set<string> {
  return new Set(
    messages.filter((m) => m.topic.endsWith("/evidence")).map((m) =>
      (JSON.parse(m.text) as { runId: string }).runId
    ),
  );
}

function statusTexts(messages: ProbeMessage[]): string[] {
  return messages.filter((m) => m.topic.endsWith("/status")).map((m) => m.text);
}

Deno.test("MqttTelemetry publishes status, heartbeat, run events and offline on close", async () => {
  await using broker = await startMosquitto();
  await using probe = await connectProbe(broker.url, {
    subscribe: ["cap/v1/robots/arm-01/#"],
  });
  using outbox = Outbox.open(":memory:");
  const telemetry = telemetryFor(broker.url, outbox, {
    heartbeatMs: 50,
    status: () => ({ state: "running", currentRunId: "run-7" }),
  });
  telemetry.start();
  await probe.waitFor((m) => statusTexts(m).includes("online"), "online");
  await probe.waitFor(
    (m) => m.some((x) => x.topic === "cap/v1/robots/arm-01/telemetry"),
    "a heartbeat",
  );
  const beat = JSON.parse(
    probe.messages.find((x) => x.topic.endsWith("/telemetry"))!.text,
  );
  assertEquals(beat.robotId, "arm-01");
  assertEquals(beat.state, "running");
  assertEquals(beat.currentRunId, "run-7");
  assertEquals(beat.outbox, {
    depth: 0,
    oldestAgeMs: 0,
    full: false,
    rejected: 0,
  });
  assert(typeof beat.memory.rss === "number" && typeof beat.ts === "string");

  telemetry.publishStatus("running");
  telemetry.publishRunEvent("run-7", { type: "started", runId: "run-7" });
  await probe.waitFor((m) => statusTexts(m).includes("running"), "running");
  await probe.waitFor(
    (m) => m.some((x) => x.topic === "cap/v1/robots/arm-01/runs/run-7/events"),
    "a run event",
  );
  await telemetry.close();
  await probe.waitFor((m) => statusTexts(m).at(-1) === "offline", "offline");

  await using late = await connectProbe(broker.url, {
    subscribe: ["cap/v1/robots/arm-01/status"],
  });
  await late.waitFor((m) => m.length > 0, "the retained status");
  assertEquals([late.messages[0]!.text, late.messages[0]!.retain], [
    "offline",
    true,
  ]);
});

Deno.test("MqttTelemetry delivers every evidence record across a broker restart", async () => {
  await using broker = await startMosquitto();
  await using probe = await connectProbe(broker.url, {
    subscribe: ["cap/v1/robots/arm-01/evidence"],
    persistentId: "evidence-probe",
  });
  const dir = await Deno.makeTempDir();
  try {
    using outbox = Outbox.open(join(dir, "outbox.sqlite"));
    await using telemetry = telemetryFor(broker.url, outbox);
    telemetry.start();
    await telemetry.waitConnected();
    const total = 400;
    for (let i = 0; i < total / 2; i++) {
      telemetry.enqueueEvidence({ runId: `r-${i}`, outcome: "succeeded" });
    }
    await probe.waitFor((m) => m.length >= 20, "the first records");
    await broker.stop();
    for (let i = total / 2; i < total; i++) {
      telemetry.enqueueEvidence({ runId: `r-${i}`, outcome: "succeeded" });
    }
    assert(outbox.depth() > total / 2, "records wait in the outbox");
    await broker.start();
    await probe.waitFor((m) => runIds(m).size === total, `${total} records`)
      .catch((error) => {
        const got = runIds(probe.messages);
        const missing = [];
        for (let i = 0; i < total; i++) if (!got.has(`r-${i}`)) missing.push(i);
        throw new Error(
          `missing ${
            missing.join(",")
          }; outbox depth ${outbox.depth()}; broker log: ${broker.log()}`,
          { cause: error },
        );
      });
    await telemetry.waitDrained();
    assertEquals(outbox.depth(), 0);
    assert(telemetry.stats().connects >= 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("MqttTelemetry reports a full outbox in the log and the heartbeat, and keeps what it holds", async () => {
  await using broker = await startMosquitto();
  await using probe = await connectProbe(broker.url, {
    subscribe: ["cap/v1/robots/arm-01/#"],
  });
  using outbox = Outbox.open(":memory:", { maxRecords: 2 });
  const logged: string[] = [];
  await using telemetry = telemetryFor(broker.url, outbox, {
    heartbeatMs: 60_000,
    log: (level, msg) => logged.push(`${level} ${msg}`),
  });
  telemetry.enqueueEvidence({ runId: "r1" });
  telemetry.enqueueEvidence({ runId: "r2" });
  let refused: unknown = null;
  try {
    telemetry.enqueueEvidence({ runId: "r3" });
  } catch (error) {
    refused = error;
  }
  assert(refused instanceof OutboxFullError, String(refused));
  assertEquals(telemetry.stats().evidenceRefused, 1);
  assert(logged.includes("error mqtt evidence refused: the outbox is full"));
  telemetry.start();
  // The first heartbeat after connecting says so, before the outbox drains.
  await probe.waitFor(
    (m) => m.some((x) => x.topic.endsWith("/telemetry")),
    "a heartbeat",
  );
  const beat = JSON.parse(
    probe.messages.find((x) => x.topic.endsWith("/telemetry"))!.text,
  );
  assertEquals(beat.outbox.full, true);
  assertEquals(beat.outbox.rejected, 1);
  await probe.waitFor(
    (m) => runIds(m).size === 2,
    "the two queued records",
  );
  assertEquals([...runIds(probe.messages)].sort(), ["r1", "r2"]);
});

async function* _lines(stream: ReadableStream<Uint8Array>) {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
    }
  }
}

function _spawnChild(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "test/fixtures/telemetry_child.ts", ...args],
    cwd: _REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

Deno.test("MqttTelemetry re-sends what a kill -9'd process had recorded", async () => {
  await using broker = await startMosquitto();
  await using probe = await connectProbe(broker.url, {
    subscribe: ["cap/v1/robots/arm-01/evidence"],
  });
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "outbox.sqlite");
    const child = _spawnChild(["evidence", broker.url, "arm-01", path]);
    const appended = new Set<string>();
    for await (const line of _lines(child.stdout)) {
      if (line.startsWith("appended ")) appended.add(line.slice(9));
      if (appended.size === 200) {
        child.kill("SIGKILL");
        break;
      }
    }
    child.kill("SIGKILL");
    await child.stdout.cancel().catch(() => {});
    assertEquals((await child.status).signal, "SIGKILL");
    assertEquals(appended.size, 200);

    using outbox = Outbox.open(path);
    await using telemetry = telemetryFor(broker.url, outbox);
    telemetry.start();
    await probe.waitFor(
      (m) => [...appended].every((id) => runIds(m).has(id)),
      "every record appended before the kill",
    );
    await telemetry.waitDrained();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("MqttTelemetry last will sets a retained offline when the process is killed", async () => {
  await using broker = await startMosquitto();
  await using probe = await connectProbe(broker.url, {
    subscribe: ["cap/v1/robots/arm-02/status"],
  });
  const child = _spawnChild(["will", broker.url, "arm-02"]);
  for await (const line of _lines(child.stdout)) {
    if (line === "connected") break;
  }
  await probe.waitFor((m) => statusTexts(m).includes("online"), "online");
  child.kill("SIGKILL");
  await child.stdout.cancel().catch(() => {});
  await child.status;
  await probe.waitFor((m) => statusTexts(m).at(-1) === "offline", "the will");

  await using late = await connectProbe(broker.url, {
    subscribe: ["cap/v1/robots/arm-02/status"],
  });
  await late.waitFor((m) => m.length > 0, "the retained status");
  assertEquals([late.messages[0]!.text, late.messages[0]!.retain], [
    "offline",
    true,
  ]);
});

Deno.test("MqttTelemetry honours cmd/stop and ignores malformed commands", async () => {
  await using broker = await startMosquitto();
  await using probe = await connectProbe(broker.url, {
    subscribe: ["cap/v1/robots/arm-01/evidence"],
  });
  using outbox = Outbox.open(":memory:");
  const reasons: string[] = [];
  const twoStops = Promise.withResolvers<void>();
  const logged: string[] = [];
  await using telemetry = telemetryFor(broker.url, outbox, {
    onStop: (reason) => {
      if (reasons.push(reason) === 2) twoStops.resolve();
    },
    log: (level, msg) => {
      if (level === "warn") logged.push(msg);
    },
  });
  telemetry.start();
  await telemetry.waitConnected();
  const stop = telemetry.topics.cmdStop;
  const before = telemetry.stats().inboundIgnored;
  await probe.publish(stop, new Uint8Array([0xff, 0xfe, 0x00]));
  await probe.publish(stop, "not json");
  await probe.publish(stop, "[1, 2]");
  await probe.publish(stop, JSON.stringify({ reason: 5 }));
  await probe.publish(stop, "x".repeat(200_000));
  await probe.publish("cap/v1/robots/arm-01/cmd/other", "{}");
  await probe.publish(stop, JSON.stringify({ reason: "operator" }));
  await probe.publish(stop, "");
  await twoStops.promise;
  assertEquals(reasons, ["operator", "mqtt cmd/stop"]);
  assert(telemetry.stats().inboundIgnored - before >= 4);
  assert(logged.some((m) => m.includes("not UTF-8")));
  assert(logged.some((m) => m.includes("not JSON")));
  assert(logged.some((m) => m.includes("reason is not a string")));

  telemetry.enqueueEvidence({ runId: "after-garbage" });
  await probe.waitFor((m) => runIds(m).has("after-garbage"), "evidence");
});

Deno.test("MqttTelemetry connects over TLS with a CA given as a path or as PEM", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o755);
    const certFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    const openssl = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert(openssl.success, new TextDecoder().decode(openssl.stderr));
    await Deno.chmod(keyFile, 0o644);
    await using broker = await startMosquitto({ tls: { certFile, keyFile } });
    assert(broker.url.startsWith("mqtts://"));
    for (const ca of [certFile, await Deno.readTextFile(certFile)]) {
      using outbox = Outbox.open(":memory:");
      await using telemetry = telemetryFor(broker.url, outbox, {
        tls: { ca },
      });
      telemetry.start();
      await telemetry.waitConnected();
      telemetry.enqueueEvidence({ runId: "tls-1" });
      await telemetry.waitDrained();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
