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
    setAside: 0,
    setAsideRecent: [],
    inFlight: 0,
  });
  assertEquals(beat.stops, { received: 0, malformed: 0 });
  const beatMessage = probe.messages.find((x) =>
    x.topic.endsWith("/telemetry")
  )!;
  assertEquals(beatMessage.properties.contentType, "application/json");
  assertEquals(beatMessage.properties.payloadFormatIndicator, true);
  assert(Number(beatMessage.properties.messageExpiryInterval) > 0);
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

Deno.test("MqttTelemetry lets refused deliveries fill only half the outbox: the rest is kept for runs", async () => {
  using outbox = Outbox.open(":memory:", { maxRecords: 4 });
  const logged: string[] = [];
  // Never started: the broker is away, as on an offline robot.
  await using telemetry = telemetryFor("mqtt://127.0.0.1:1", outbox, {
    log: (level, msg) => logged.push(`${level} ${msg}`),
  });
  telemetry.enqueueEvidence({ runId: "junk-1", outcome: "rejected" });
  telemetry.enqueueEvidence({ runId: "junk-2", outcome: "rejected" });
  let refused: unknown = null;
  try {
    telemetry.enqueueEvidence({ runId: "junk-3", outcome: "rejected" });
  } catch (error) {
    refused = error;
  }
  assert(refused instanceof OutboxFullError, String(refused));
  assert(/kept for runs/.test(refused.message), refused.message);
  // Counted and told, as any refusal is.
  assertEquals(telemetry.stats().evidenceRefused, 1);
  assert(
    logged.some((l) =>
      /^error mqtt evidence refused: the outbox is half full/.test(l)
    ),
    logged.join("\n"),
  );
  // Runs still find room, up to the outbox's own limit.
  telemetry.enqueueEvidence({ runId: "run-1", outcome: "succeeded" });
  telemetry.enqueueEvidence({ runId: "run-2", outcome: "stopped" });
  assertEquals(outbox.depth(), 4);
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

Deno.test("MqttTelemetry: every message on cmd/stop stops; a malformed one is recorded as such", async () => {
  await using broker = await startMosquitto();
  await using probe = await connectProbe(broker.url, {
    subscribe: ["cap/v1/robots/arm-01/evidence"],
  });
  using outbox = Outbox.open(":memory:");
  const stops: Array<[string, string | null]> = [];
  const allStops = Promise.withResolvers<void>();
  const logged: string[] = [];
  await using telemetry = telemetryFor(broker.url, outbox, {
    onStop: (reason, info) => {
      if (stops.push([reason, info.malformed]) === 8) allStops.resolve();
    },
    log: (level, msg) => {
      if (level === "warn") logged.push(msg);
    },
  });
  telemetry.start();
  await telemetry.waitConnected();
  const stop = telemetry.topics.cmdStop;
  await probe.publish(stop, new Uint8Array([0xff, 0xfe, 0x00]));
  await probe.publish(stop, "not json");
  await probe.publish(stop, "[1, 2]");
  await probe.publish(stop, JSON.stringify({ reason: 5 }));
  await probe.publish(stop, "stop");
  await probe.publish(stop, "x".repeat(200_000));
  await probe.publish("cap/v1/robots/arm-01/cmd/other", "{}");
  await probe.publish(stop, JSON.stringify({ reason: "operator" }));
  await probe.publish(stop, "");
  await allStops.promise;
  assertEquals(stops, [
    ["malformed MQTT cmd/stop (payload is not UTF-8)", "payload is not UTF-8"],
    ["malformed MQTT cmd/stop (payload is not JSON)", "payload is not JSON"],
    [
      "malformed MQTT cmd/stop (payload is not a JSON object)",
      "payload is not a JSON object",
    ],
    [
      "malformed MQTT cmd/stop (reason is not a string)",
      "reason is not a string",
    ],
    ["malformed MQTT cmd/stop (payload is not JSON)", "payload is not JSON"],
    [
      "malformed MQTT cmd/stop (payload larger than 65536 bytes)",
      "payload larger than 65536 bytes",
    ],
    ["operator", null],
    ["mqtt cmd/stop", null],
  ]);
  assertEquals(telemetry.stats().stopsReceived, 8);
  assertEquals(telemetry.stats().stopsMalformed, 6);
  assert(logged.some((m) => m.includes("malformed cmd/stop")));

  telemetry.enqueueEvidence({ runId: "after-garbage" });
  await probe.waitFor((m) => runIds(m).has("after-garbage"), "evidence");
});

Deno.test("MqttTelemetry bounds evidence to the broker's maximum packet size and sets aside what does not fit", async () => {
  await using broker = await startMosquitto({
    extraConfig: "max_packet_size 20000",
  });
  await using probe = await connectProbe(broker.url, {
    subscribe: ["cap/v1/robots/arm-01/#"],
  });
  using outbox = Outbox.open(":memory:");
  await using telemetry = telemetryFor(broker.url, outbox, {
    heartbeatMs: 60_000,
  });
  telemetry.start();
  await telemetry.waitConnected();
  assertEquals(telemetry.stats().brokerMaxPacketBytes, 20000);
  const big = {
    runId: "big",
    robotId: "arm-01",
    startedAt: "",
    endedAt: "",
    program: {
      sha256: "",
      source: "s".repeat(50_000),
      instruction: null,
      programId: null,
      version: null,
      keyId: null,
    },
    verifier: { ok: true, issues: [] },
    worldBefore: null,
    worldAfter: null,
    calls: [],
    checks: [],
    outcome: "succeeded",
    failure: null,
    resources: { wallMs: 0, skillCalls: 0, memoryLimitBytes: 0, timeoutMs: 0 },
  };
  telemetry.enqueueEvidence(big);
  // Not an evidence record: cannot be bounded, so it is set aside.
  outbox.append(telemetry.topics.evidence, "z".repeat(30_000), {
    kind: "evidence",
  });
  telemetry.enqueueEvidence({ runId: "behind" });
  await probe.waitFor(
    (m) => runIds(m).has("big") && runIds(m).has("behind"),
    "the bounded record and the one behind the refused one",
  );
  const got = probe.messages.find((m) =>
    m.topic.endsWith("/evidence") && m.text.includes('"big"')
  )!;
  assert(got.payload.byteLength < 20000);
  assertEquals(got.properties.contentType, "application/json");
  assertEquals(got.properties.messageExpiryInterval, undefined);
  assert(JSON.parse(got.text).truncated.bytes > 0);
  await telemetry.waitDrained();
  assertEquals(outbox.setAsideCount(), 1);
  assertEquals(telemetry.stats().evidenceSetAside, 1);
  assertEquals(telemetry.stats().evidenceRebounded, 1);
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

Deno.test("MqttTelemetry takes cmd/stop while a large backlog drains, and while the broker refuses every evidence record", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o755);
    const acl = join(dir, "acl");
    // Anonymous clients may not publish evidence: QoS 1 PUBACKs say 0x87.
    await Deno.writeTextFile(
      acl,
      [
        "topic readwrite cap/v1/robots/arm-01/status",
        "topic readwrite cap/v1/robots/arm-01/telemetry",
        "topic readwrite cap/v1/robots/arm-01/cmd/#",
        "topic read cap/v1/robots/arm-01/evidence",
        "",
      ].join("\n"),
    );
    await Deno.chmod(acl, 0o644);
    for (const refused of [false, true]) {
      await using broker = await startMosquitto(
        refused ? { extraConfig: `acl_file ${acl}` } : {},
      );
      await using probe = await connectProbe(broker.url);
      using outbox = Outbox.open(join(dir, `outbox-${refused}.sqlite`), {
        maxRecords: 20_000,
      });
      const backlog = refused ? 50 : 8000;
      outbox.appendMany(
        Array.from({ length: backlog }, (_, i) => ({
          topic: "cap/v1/robots/arm-01/evidence",
          payload: JSON.stringify({ runId: `r-${i}`, pad: "p".repeat(1500) }),
          kind: "evidence",
        })),
      );
      const stopped = Promise.withResolvers<number>();
      await using telemetry = telemetryFor(broker.url, outbox, {
        heartbeatMs: 60_000,
        onStop: () => stopped.resolve(outbox.depth()),
      });
      telemetry.start();
      await telemetry.waitConnected();
      await probe.publish(telemetry.topics.cmdStop, '{"reason":"now"}');
      const depthAtStop = await stopped.promise;
      if (!refused) {
        // The stop did not wait for the backlog.
        assert(depthAtStop > 0, `depth at the stop: ${depthAtStop}`);
        await telemetry.waitDrained({ timeoutMs: 60_000 });
        assertEquals(telemetry.stats().evidenceAcked >= backlog, true);
      } else {
        await telemetry.waitDrained({ timeoutMs: 30_000 });
        assertEquals(outbox.setAsideCount(), backlog);
        assertEquals(telemetry.stats().evidenceSetAside, backlog);
        const [newest] = outbox.setAsideRecords(1);
        assert(newest?.reason.includes("0x87"), String(newest?.reason));
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A TCP proxy to `port` that cuts a connection as soon as the client sends
 * `poison`: a broker that drops the robot for a record, without saying why.
 */
function _poisonProxy(port: number, poison: string): {
  port: number;
  cuts: () => number;
  close: () => Promise<void>;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const marker = new TextEncoder().encode(poison);
  const conns = new Set<Deno.Conn>();
  let cuts = 0;
  const has = (chunk: Uint8Array) => {
    outer: for (let i = 0; i + marker.length <= chunk.length; i++) {
      for (let j = 0; j < marker.length; j++) {
        if (chunk[i + j] !== marker[j]) continue outer;
      }
      return true;
    }
    return false;
  };
  const serving = (async () => {
    for await (const client of listener) {
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.add(client);
      conns.add(upstream);
      const end = () => {
        for (const c of [client, upstream]) {
          conns.delete(c);
          try {
            c.close();
          } catch {
            // closed already
          }
        }
      };
      (async () => {
        try {
          for await (const chunk of client.readable) {
            // (The marker is never split across chunks for these small records.)
            if (has(chunk)) {
              cuts++;
              break;
            }
            await upstream.write(chunk);
          }
        } catch {
          // a side closed
        }
        end();
      })();
      (async () => {
        try {
          for await (const chunk of upstream.readable) {
            await client.write(chunk);
          }
        } catch {
          // a side closed
        }
        end();
      })();
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cuts: () => cuts,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed already
        }
      }
      await serving;
    },
  };
}

Deno.test("MqttTelemetry sets aside a record the broker drops the link for, and the records behind it arrive", async () => {
  await using broker = await startMosquitto();
  await using probe = await connectProbe(broker.url, {
    subscribe: [
      "cap/v1/robots/arm-01/evidence",
      "cap/v1/robots/arm-01/telemetry",
    ],
  });
  const proxy = _poisonProxy(broker.port, "POISON");
  try {
    using outbox = Outbox.open(":memory:");
    const stopped = Promise.withResolvers<string>();
    await using telemetry = telemetryFor(
      `mqtt://127.0.0.1:${proxy.port}`,
      outbox,
      { heartbeatMs: 60_000, onStop: (reason) => stopped.resolve(reason) },
    );
    telemetry.start();
    await telemetry.waitConnected();
    telemetry.enqueueEvidence({ runId: "before" });
    telemetry.enqueueEvidence({ runId: "bad", note: "POISON" });
    for (let i = 0; i < 5; i++) {
      telemetry.enqueueEvidence({ runId: `after-${i}` });
    }
    await probe.waitFor(
      (m) =>
        ["before", ...Array.from({ length: 5 }, (_, i) => `after-${i}`)].every(
          (id) => runIds(m).has(id),
        ),
      "every record but the poisoned one",
      30_000,
    );
    await telemetry.waitDrained({ timeoutMs: 30_000 });
    assertEquals(outbox.setAsideCount(), 1);
    assertEquals(runIds(probe.messages).has("bad"), false);
    assert(proxy.cuts() >= 3, `cuts: ${proxy.cuts()}`);
    const [aside] = outbox.setAsideRecords(1);
    assert(String(aside?.reason).includes("dropped the connection"));
    // Counted and named in the heartbeat (sent at once when it happened).
    await probe.waitFor(
      (m) =>
        m.some((x) => {
          if (!x.topic.endsWith("/telemetry")) return false;
          const beat = JSON.parse(x.text) as {
            outbox: { setAside: number; setAsideRecent: { runId: string }[] };
          };
          return beat.outbox.setAside === 1 &&
            beat.outbox.setAsideRecent[0]?.runId === "bad";
        }),
      "a heartbeat naming the set-aside record",
    );
    // The stop path never went through the evidence connection.
    await probe.publish(telemetry.topics.cmdStop, "");
    assertEquals(await stopped.promise, "mqtt cmd/stop");
  } finally {
    await proxy.close();
  }
});
