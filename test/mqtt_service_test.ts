/**
 * The service's MQTT telemetry end to end: a real service process
 * (`runtime/main.ts`), a real Mosquitto, signed programs delivered and run
 * over gRPC. Evidence survives broker restarts and `kill -9`, the last will
 * marks a dead robot `offline`, `cmd/stop` is an emergency stop, and garbage
 * on the robot's topics does not disturb it.
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type EvidenceRecord } from "../runtime/evidence/mod.ts";
import {
  EdgeCallError,
  EdgeClient,
  type WireRunEvent,
} from "../runtime/grpc/mod.ts";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { makeKey, signed, type TestKey } from "./_edge_fixture.ts";
import { freePort, type Mosquitto, startMosquitto } from "./_mosquitto.ts";
import { connectProbe, type Probe, type ProbeMessage } from "./_mqtt_probe.ts";

const _REPO = fileURLToPath(new URL("..", import.meta.url));
const _PREFIX = "cap/v1/robots/arm-01";

/** A service process and the JSON log lines it wrote on stderr. */
interface ServiceProcess extends AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly lines: string[];
  readonly address: string;
  /** SIGKILL, then waits for the exit and the end of its stderr. */
  kill9(): Promise<void>;
  /** SIGTERM (a clean shutdown), then waits like {@linkcode kill9}. */
  terminate(): Promise<Deno.CommandStatus>;
}

/** Writes the service configuration for `stateDir` and `broker`. */
async function _writeConfig(
  key: TestKey,
  stateDir: string,
  broker: Mosquitto,
  port: number,
  mqtt: Record<string, unknown>,
): Promise<string> {
  const path = join(key.dir, `config-${port}.json`);
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      robotId: "arm-01",
      stateDir,
      grpc: { listen: `127.0.0.1:${port}` },
      trustStore: key.trustPath,
      backend: { kind: "sim" },
      mqtt: {
        url: broker.url,
        heartbeatMs: 1_000,
        reconnectMinMs: 100,
        reconnectMaxMs: 400,
        ...mqtt,
      },
      caps: {
        timeoutMs: 30_000,
        memoryBytes: 32 * 1024 * 1024,
        maxSkillCalls: 1000,
      },
    }),
  );
  return path;
}

/** Starts `runtime/main.ts` on `stateDir` and waits for "serving gRPC". */
async function _spawnService(
  key: TestKey,
  stateDir: string,
  broker: Mosquitto,
  mqtt: Record<string, unknown> = {},
): Promise<ServiceProcess> {
  const port = freePort();
  const configPath = await _writeConfig(key, stateDir, broker, port, mqtt);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-worker-options",
      "--allow-read",
      "--allow-write",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-sys",
      "runtime/main.ts",
      "--config",
      configPath,
    ],
    cwd: _REPO,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  const reading = (async () => {
    let rest = "";
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
      for (const listener of listeners) listener();
    }
    if (rest !== "") lines.push(rest);
    for (const listener of listeners) listener();
  })();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    for (const listener of listeners) listener();
    return s;
  });
  const finish = async (signal: Deno.Signal) => {
    if (!exited) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
    const s = await status;
    await reading;
    return s;
  };
  const service: ServiceProcess = {
    child,
    lines,
    address: `127.0.0.1:${port}`,
    kill9: async () => {
      await finish("SIGKILL");
    },
    terminate: () => finish("SIGTERM"),
    [Symbol.asyncDispose]: async () => {
      await finish("SIGKILL");
    },
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => done(new Error('no "serving gRPC" line after 20 s')),
        20_000,
      );
      const check = () => {
        if (lines.some((l) => l.includes("serving gRPC"))) done();
        else if (exited) done(new Error("the service exited"));
      };
      const done = (error?: Error) => {
        clearTimeout(timer);
        listeners.delete(check);
        if (error === undefined) resolve();
        else {
          reject(
            new Error(
              `Cannot start the service on ${stateDir}: ${error.message}; stderr:\n${
                lines.join("\n")
              }`,
            ),
          );
        }
      };
      listeners.add(check);
      check();
    });
  } catch (error) {
    await service[Symbol.asyncDispose]();
    throw error;
  }
  return service;
}

/** Run ids of the evidence records received so far. */
function _evidenceIds(messages: ProbeMessage[]): Set<string> {
  return new Set(
    messages.filter((m) => m.topic === `${_PREFIX}/evidence`).map((m) =>
      (JSON.parse(m.text) as EvidenceRecord).runId
    ),
  );
}

function _statuses(messages: ProbeMessage[]): string[] {
  return messages.filter((m) => m.topic === `${_PREFIX}/status`).map((m) =>
    m.text
  );
}

/** Waits until every id of `runIds` arrived as evidence; none other may. */
async function _assertEvidence(
  probe: Probe,
  runIds: readonly string[],
  what: string,
): Promise<void> {
  await probe.waitFor(
    (m) => {
      const got = _evidenceIds(m);
      return runIds.every((id) => got.has(id));
    },
    `${runIds.length} evidence records ${what} (missing: ${
      runIds.filter((id) => !_evidenceIds(probe.messages).has(id)).length
    } at the start of the wait)`,
    20_000,
  ).catch((error) => {
    const got = _evidenceIds(probe.messages);
    const missing = runIds.filter((id) => !got.has(id));
    throw new Error(
      `${(error as Error).message}; still missing ${missing.length}: ${
        missing.slice(0, 5).join(", ")
      }`,
    );
  });
}

/** A broker, a persistent probe on the robot's topics, a key and a state dir. */
async function _setup() {
  const key = await makeKey();
  const broker = await startMosquitto();
  const probe = await connectProbe(broker.url, {
    subscribe: [`${_PREFIX}/#`],
    persistentId: `probe-${crypto.randomUUID()}`,
  });
  return {
    key,
    broker,
    probe,
    stateDir: join(key.dir, "state"),
    async [Symbol.asyncDispose]() {
      await probe[Symbol.asyncDispose]();
      await broker[Symbol.asyncDispose]();
      await Deno.remove(key.dir, { recursive: true });
    },
  };
}

const _TICK = { programId: "tick", source: 'say("tick");' };

Deno.test("evidence of every run arrives over MQTT across a broker restart", async () => {
  await using env = await _setup();
  await using service = await _spawnService(env.key, env.stateDir, env.broker);
  using client = new EdgeClient(service.address);
  await env.probe.waitFor(
    (m) => _statuses(m).includes("online"),
    "the robot online",
  );
  const delivered = await client.deliver(await signed(env.key, _TICK));
  assertEquals(delivered.receipt.accepted, true, delivered.receipt.message);

  const runIds: string[] = [];
  let restarting: Promise<void> | null = null;
  for (let i = 0; i < 30; i++) {
    const evidence = await client.run("tick");
    assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
    runIds.push(evidence.runId);
    // Restart the broker in the middle of the stream, while runs go on.
    if (i === 9) restarting = env.broker.restart();
  }
  await restarting;
  await _waitForLine(
    service,
    (l) => l.includes("mqtt connection lost"),
    "the service to see the broker go",
  );
  await _assertEvidence(env.probe, runIds, "across the broker restart");
  assertEquals(
    [..._evidenceIds(env.probe.messages)].filter((id) => !runIds.includes(id)),
    [],
  );
  const record = JSON.parse(
    env.probe.messages.find((m) => m.topic === `${_PREFIX}/evidence`)!.text,
  ) as EvidenceRecord;
  assertEquals(record.robotId, "arm-01");
  assertEquals(record.program.programId, "tick");
  assertEquals(record.calls[0]?.skill, "say");
  // Close the gRPC client before a graceful shutdown of the service: Deno
  // 2.9 can crash inside nghttp2 when a GOAWAY closes a client session
  // (denoland/deno#36788).
  client.close();
  assertEquals((await service.terminate()).code, 0);
  await env.probe.waitFor(
    (m) => _statuses(m).at(-1) === "offline",
    "offline after a clean shutdown",
  );
});

Deno.test("kill -9 loses no evidence: the outbox drains after a restart on the same state; the last will says offline", async () => {
  await using env = await _setup();
  // 1. The broker is down: records pile up in the outbox, then kill -9.
  const queued: string[] = [];
  {
    await using service = await _spawnService(
      env.key,
      env.stateDir,
      env.broker,
    );
    using client = new EdgeClient(service.address);
    await env.probe.waitFor(
      (m) => _statuses(m).includes("online"),
      "the robot online",
    );
    const delivered = await client.deliver(await signed(env.key, _TICK));
    assertEquals(delivered.receipt.accepted, true, delivered.receipt.message);
    await env.broker.stop();
    for (let i = 0; i < 10; i++) queued.push((await client.run("tick")).runId);
    await service.kill9();
  }
  await env.broker.start();
  // 2. Restart on the same state dir: the outbox drains. Then kill -9 while
  // runs stream (and publish): every record a run returned arrives.
  const streamed: string[] = [];
  {
    await using service = await _spawnService(
      env.key,
      env.stateDir,
      env.broker,
    );
    using client = new EdgeClient(service.address);
    await _assertEvidence(env.probe, queued, "queued before the kill");
    const onlineAt = env.probe.messages.length;
    const running = (async () => {
      while (true) streamed.push((await client.run("tick")).runId);
    })();
    while (streamed.length < 5) {
      await Promise.race([
        running,
        new Promise((resolve) => setTimeout(resolve, 5)),
      ]);
    }
    await service.kill9();
    const ended = await running.then(() => null, (error) => error);
    assert(ended instanceof EdgeCallError, String(ended));
    // The last will: the broker marks the robot offline (retained).
    await env.probe.waitFor(
      (m) => _statuses(m.slice(onlineAt)).at(-1) === "offline",
      "the last will (offline) after kill -9",
    );
  }
  {
    await using late = await connectProbe(env.broker.url, {
      subscribe: [`${_PREFIX}/status`],
    });
    await late.waitFor((m) => m.length > 0, "the retained status");
    assertEquals(late.messages.map((m) => [m.text, m.retain]), [[
      "offline",
      true,
    ]]);
  }
  // 3. A third process drains what the second one had not published.
  await using service = await _spawnService(env.key, env.stateDir, env.broker);
  await _assertEvidence(env.probe, streamed, "streamed before the kill");
  await env.probe.waitFor(
    (m) => _statuses(m).at(-1) === "online",
    "online again",
  );
  await service.terminate();
});

Deno.test("a stop on cmd/stop ends a spinning program as stopped/estop; runs are refused until Resume", async () => {
  await using env = await _setup();
  await using service = await _spawnService(env.key, env.stateDir, env.broker);
  using client = new EdgeClient(service.address);
  await env.probe.waitFor(
    (m) => _statuses(m).includes("online"),
    "the robot online",
  );
  for (
    const program of [_TICK, { programId: "spin", source: "while (true) {}" }]
  ) {
    const { receipt } = await client.deliver(await signed(env.key, program));
    assertEquals(receipt.accepted, true, receipt.message);
  }
  const events: WireRunEvent[] = [];
  const started = Promise.withResolvers<void>();
  const spinning = client.run("spin", {
    onEvent: (event) => {
      events.push(event);
      if (event.type === "run_started") started.resolve();
    },
  });
  await started.promise;
  await env.probe.publish(
    `${_PREFIX}/cmd/stop`,
    JSON.stringify({ reason: "operator pressed stop" }),
  );
  const evidence = await spinning;
  assertEquals(evidence.outcome, "stopped");
  assertEquals(evidence.failure?.label, "estop");
  assertEquals(events.at(-1)?.type, "run_ended");
  await _assertEvidence(env.probe, [evidence.runId], "of the stopped run");
  await env.probe.waitFor(
    (m) => _statuses(m).at(-1) === "stopped",
    "the status stopped",
  );
  const refused = await assertRejects(() => client.run("tick"), EdgeCallError);
  assertEquals(refused.code, "FAILED_PRECONDITION");
  assertEquals((await client.resume()).wasStopped, true);
  const after = await client.run("tick");
  assertEquals(after.outcome, "succeeded", after.failure?.message);
  assert(
    service.lines.some((l) => l.includes("operator pressed stop")),
    "the stop reason is in the log",
  );
  client.close();
  await service.terminate();
});

Deno.test("garbage on the robot's inbound topics does not disturb the service", async () => {
  await using env = await _setup();
  await using service = await _spawnService(env.key, env.stateDir, env.broker);
  using client = new EdgeClient(service.address);
  await env.probe.waitFor(
    (m) => _statuses(m).includes("online"),
    "the robot online",
  );
  const { receipt } = await client.deliver(await signed(env.key, _TICK));
  assertEquals(receipt.accepted, true, receipt.message);
  const stop = `${_PREFIX}/cmd/stop`;
  const junk: [string, string | Uint8Array][] = [
    [stop, new Uint8Array([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80])],
    [stop, "not json at all"],
    [stop, "[1, 2, 3]"],
    [stop, '{"reason": 42}'],
    [stop, "x".repeat(200_000)],
    [stop, new Uint8Array(70_000).fill(0x7b)],
    [`${_PREFIX}/cmd/stop/extra`, "{}"],
    [`${_PREFIX}/cmd/run`, '{"programId": "tick"}'],
    [`${_PREFIX}/cmd`, new Uint8Array([0, 1, 2, 3])],
    [`${_PREFIX}/evidence`, "{not evidence"],
    [`${_PREFIX}/telemetry`, new Uint8Array(100_000)],
    [`${_PREFIX}/runs/x/events`, "\u0000"],
  ];
  for (let round = 0; round < 3; round++) {
    for (const [topic, payload] of junk) {
      await env.probe.publish(topic, payload);
    }
  }
  // The non-UTF-8 payload etc. reached the service, and it said so.
  await _waitForLine(
    service,
    (l) => l.includes("mqtt inbound message ignored"),
    "an ignored inbound message in the log",
  );
  assertEquals(await client.health(), "SERVING");
  for (let i = 0; i < 3; i++) {
    const evidence = await client.run("tick");
    assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
  }
  assert(
    !service.lines.some((l) => l.includes("emergency stop")),
    "no junk payload was taken for a stop",
  );
  assertEquals(_statuses(env.probe.messages).includes("stopped"), false);
  // The process is alive and still takes a real stop.
  await env.probe.publish(stop, "");
  await env.probe.waitFor(
    (m) => _statuses(m).at(-1) === "stopped",
    "the status stopped after a valid (empty) stop",
  );
  await client.resume();
  client.close();
  assertEquals((await service.terminate()).code, 0);
});

Deno.test("a full outbox is said in the log and the heartbeat; runs go on and what it holds arrives", async () => {
  await using env = await _setup();
  await using service = await _spawnService(env.key, env.stateDir, env.broker, {
    outbox: { maxRecords: 3 },
  });
  using client = new EdgeClient(service.address);
  await env.probe.waitFor(
    (m) => _statuses(m).includes("online"),
    "the robot online",
  );
  const { receipt } = await client.deliver(await signed(env.key, _TICK));
  assertEquals(receipt.accepted, true, receipt.message);
  await env.broker.stop();
  const runIds: string[] = [];
  for (let i = 0; i < 5; i++) {
    const evidence = await client.run("tick");
    assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
    runIds.push(evidence.runId);
  }
  for (const runId of runIds.slice(3)) {
    await _waitForLine(
      service,
      (l) =>
        l.includes(`cannot queue evidence of run ${runId}`) &&
        l.includes("kept in the local evidence store only"),
      `the refusal of run ${runId} in the log`,
    );
  }
  await env.broker.start();
  await _assertEvidence(env.probe, runIds.slice(0, 3), "held by the outbox");
  await env.probe.waitFor(
    (m) =>
      m.some((x) =>
        x.topic === `${_PREFIX}/telemetry` &&
        (JSON.parse(x.text) as { outbox: { rejected: number } }).outbox
            .rejected === 2
      ),
    "a heartbeat counting 2 refused records",
  );
  client.close();
  await service.terminate();
});

/** Waits until a log line of `service` matches. */
async function _waitForLine(
  service: ServiceProcess,
  match: (line: string) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!service.lines.some(match)) {
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}; log:\n${
          service.lines.join("\n")
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
