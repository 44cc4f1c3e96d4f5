/**
 * The service's MQTT telemetry end to end: a real service process
 * (`runtime/main.ts`), a real Mosquitto, signed programs delivered and run
 * over gRPC. Evidence survives broker restarts and `kill -9`, the last will
 * marks a dead robot `offline`, `cmd/stop` is an emergency stop, and garbage
 * on the robot's other topics does not disturb it.
 * @module
 */
import { type EvidenceRecord } from "../runtime/evidence/mod.ts";
import { EdgeCallError, type WireRunEvent } from "../runtime/grpc/mod.ts";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { signed } from "./_edge_fixture.ts";
import { connectProbe } from "./_mqtt_probe.ts";
import {
  assertEvidence,
  evidenceIds,
  PREFIX,
  setup,
  spawnService,
  statuses,
  waitForLine,
} from "./_mqtt_service.ts";

const _TICK = { programId: "tick", source: 'say("tick");' };

Deno.test("evidence of every run arrives over MQTT across a broker restart", async () => {
  await using env = await setup();
  await using service = await spawnService(env.key, env.stateDir, env.broker);
  using client = service.client();
  await env.probe.waitFor(
    (m) => statuses(m).includes("online"),
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
  await waitForLine(
    service,
    (l) => l.includes("mqtt connection lost"),
    "the service to see the broker go",
  );
  await assertEvidence(env.probe, runIds, "across the broker restart");
  assertEquals(
    [...evidenceIds(env.probe.messages)].filter((id) => !runIds.includes(id)),
    [],
  );
  const record = JSON.parse(
    env.probe.messages.find((m) => m.topic === `${PREFIX}/evidence`)!.text,
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
    (m) => statuses(m).at(-1) === "offline",
    "offline after a clean shutdown",
  );
});

Deno.test("kill -9 loses no evidence: the outbox drains after a restart on the same state; the last will says offline", async () => {
  await using env = await setup();
  // 1. The broker is down: records pile up in the outbox, then kill -9.
  const queued: string[] = [];
  {
    await using service = await spawnService(
      env.key,
      env.stateDir,
      env.broker,
    );
    using client = service.client();
    await env.probe.waitFor(
      (m) => statuses(m).includes("online"),
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
    await using service = await spawnService(
      env.key,
      env.stateDir,
      env.broker,
    );
    using client = service.client();
    await assertEvidence(env.probe, queued, "queued before the kill");
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
      (m) => statuses(m.slice(onlineAt)).at(-1) === "offline",
      "the last will (offline) after kill -9",
    );
  }
  {
    await using late = await connectProbe(env.broker.url, {
      subscribe: [`${PREFIX}/status`],
    });
    await late.waitFor((m) => m.length > 0, "the retained status");
    assertEquals(late.messages.map((m) => [m.text, m.retain]), [[
      "offline",
      true,
    ]]);
  }
  // 3. A third process drains what the second one had not published.
  await using service = await spawnService(env.key, env.stateDir, env.broker);
  await assertEvidence(env.probe, streamed, "streamed before the kill");
  await env.probe.waitFor(
    (m) => statuses(m).at(-1) === "online",
    "online again",
  );
  await service.terminate();
});

Deno.test("a stop on cmd/stop ends a spinning program as stopped/estop; runs are refused until Resume", async () => {
  await using env = await setup();
  await using service = await spawnService(env.key, env.stateDir, env.broker);
  using client = service.client();
  await env.probe.waitFor(
    (m) => statuses(m).includes("online"),
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
    `${PREFIX}/cmd/stop`,
    JSON.stringify({ reason: "operator pressed stop" }),
  );
  const evidence = await spinning;
  assertEquals(evidence.outcome, "stopped");
  assertEquals(evidence.failure?.label, "estop");
  assertEquals(events.at(-1)?.type, "run_ended");
  await assertEvidence(env.probe, [evidence.runId], "of the stopped run");
  await env.probe.waitFor(
    (m) => statuses(m).at(-1) === "stopped",
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

Deno.test("garbage on the robot's other topics does not disturb the service", async () => {
  await using env = await setup();
  await using service = await spawnService(env.key, env.stateDir, env.broker);
  using client = service.client();
  await env.probe.waitFor(
    (m) => statuses(m).includes("online"),
    "the robot online",
  );
  const { receipt } = await client.deliver(await signed(env.key, _TICK));
  assertEquals(receipt.accepted, true, receipt.message);
  const stop = `${PREFIX}/cmd/stop`;
  // (Any message on cmd/stop itself is a stop: see the malformed-stop test.)
  const junk: [string, string | Uint8Array][] = [
    [`${PREFIX}/cmd/stop/extra`, "{}"],
    [`${PREFIX}/cmd/run`, '{"programId": "tick"}'],
    [`${PREFIX}/cmd`, new Uint8Array([0, 1, 2, 3])],
    [`${PREFIX}/evidence`, "{not evidence"],
    [`${PREFIX}/telemetry`, new Uint8Array(100_000)],
    [`${PREFIX}/runs/x/events`, "\u0000"],
    [`${PREFIX}/status`, new Uint8Array([0xff, 0xfe])],
  ];
  for (let round = 0; round < 3; round++) {
    for (const [topic, payload] of junk) {
      await env.probe.publish(topic, payload);
    }
  }
  assertEquals(await client.health(), "SERVING");
  for (let i = 0; i < 3; i++) {
    const evidence = await client.run("tick");
    assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
  }
  assert(
    !service.lines.some((l) => l.includes("emergency stop")),
    "no junk payload was taken for a stop",
  );
  assertEquals(statuses(env.probe.messages).includes("stopped"), false);
  // The process is alive and still takes a real stop.
  await env.probe.publish(stop, "");
  await env.probe.waitFor(
    (m) => statuses(m).at(-1) === "stopped",
    "the status stopped after a valid (empty) stop",
  );
  await client.resume();
  client.close();
  assertEquals((await service.terminate()).code, 0);
});

Deno.test("a full outbox is said in the log and the heartbeat; runs go on and what it holds arrives", async () => {
  await using env = await setup();
  await using service = await spawnService(env.key, env.stateDir, env.broker, {
    outbox: { maxRecords: 3 },
  });
  using client = service.client();
  await env.probe.waitFor(
    (m) => statuses(m).includes("online"),
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
    await waitForLine(
      service,
      (l) =>
        l.includes(`cannot queue evidence of run ${runId}`) &&
        l.includes("kept in the local evidence store only"),
      `the refusal of run ${runId} in the log`,
    );
  }
  await env.broker.start();
  await assertEvidence(env.probe, runIds.slice(0, 3), "held by the outbox");
  await env.probe.waitFor(
    (m) =>
      m.some((x) =>
        x.topic === `${PREFIX}/telemetry` &&
        (JSON.parse(x.text) as { outbox: { rejected: number } }).outbox
            .rejected === 2
      ),
    "a heartbeat counting 2 refused records",
  );
  client.close();
  await service.terminate();
});
