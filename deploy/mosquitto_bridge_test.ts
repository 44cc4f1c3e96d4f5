import { assert, assertEquals } from "../test/_assert.ts";
import { type Mosquitto, startMosquitto } from "../test/_mosquitto.ts";
import { connectProbe } from "../test/_mqtt_probe.ts";
import { _ROOT } from "./_install_layout.ts";

const CONF = `${_ROOT}/deploy/mosquitto-bridge.conf`;
const ROBOT = "r1";

/**
 * deploy/mosquitto-bridge.conf for a local broker started by the test helper:
 * the helper's own listener replaces `listener 1883` (its persistence lines
 * come first), the bridge points at `fleet`, the robot is "r1", and the
 * reconnect delay is 1 s so a test does not wait out the back-off.
 */
async function bridgeConfig(fleet: Mosquitto): Promise<string> {
  const text = await Deno.readTextFile(CONF);
  const replaced = text
    .replace(/^listener 1883 127\.0\.0\.1$/m, "")
    .replace(/^address .*$/m, `address 127.0.0.1:${fleet.port}`)
    .replace(/^restart_timeout .*$/m, "restart_timeout 1")
    .replaceAll("arm-01", ROBOT);
  for (
    const [pattern, what] of [[/^listener /m, "listener"], [
      /arm-01/,
      "robot id",
    ]] as const
  ) {
    assert(
      !pattern.test(replaced),
      `every ${what} line of ${CONF} was adapted`,
    );
  }
  return replaced;
}

/** Waits until the bridge reports itself connected on the fleet broker. */
async function bridgeUp(fleetUrl: string): Promise<void> {
  await using notice = await connectProbe(fleetUrl, {
    subscribe: [`$SYS/broker/connection/cap-bridge-${ROBOT}/state`],
  });
  await notice.waitFor(
    (messages) => messages.at(-1)?.text === "1",
    "the bridge's connection notification",
  );
}

Deno.test("the bridge forwards a robot's evidence to the fleet and the fleet's stop to the robot, QoS 1", async () => {
  await using fleet = await startMosquitto();
  await using local = await startMosquitto({
    extraConfig: await bridgeConfig(fleet),
  });
  await bridgeUp(fleet.url);
  await using fleetSide = await connectProbe(fleet.url, {
    subscribe: [`cap/v1/robots/${ROBOT}/#`],
  });
  await using robotSide = await connectProbe(local.url, {
    subscribe: ["cap/v1/robots/+/cmd/stop"],
  });

  const evidence = JSON.stringify({ runId: "run-1", outcome: "succeeded" });
  await robotSide.publish(`cap/v1/robots/${ROBOT}/evidence`, evidence);
  await robotSide.publish(`cap/v1/robots/${ROBOT}/status`, "online", {
    retain: true,
  });
  await fleetSide.waitFor(
    (messages) =>
      messages.some((m) =>
        m.topic === `cap/v1/robots/${ROBOT}/evidence` && m.text === evidence
      ) && messages.some((m) => m.topic.endsWith("/status")),
    "evidence and status on the fleet broker",
  );

  // The bridge subscribed on the fleet when it connected: a stop published
  // there now arrives on the robot's broker.
  await fleetSide.publish(`cap/v1/robots/${ROBOT}/cmd/stop`, "operator");
  await robotSide.waitFor(
    (messages) => messages.some((m) => m.text === "operator"),
    "the stop on the robot's broker",
  );
  // What is not the robot's does not cross: commands of other robots, and
  // the robot's own stop topic does not loop back out.
  await fleetSide.publish("cap/v1/robots/other/cmd/stop", "not for r1");
  await fleetSide.publish(`cap/v1/robots/${ROBOT}/cmd/stop`, "second");
  await robotSide.waitFor(
    (messages) => messages.some((m) => m.text === "second"),
    "the second stop on the robot's broker",
  );
  assertEquals(
    robotSide.messages.map((m) => m.text),
    ["operator", "second"],
  );
  assertEquals(
    fleetSide.messages.filter((m) => m.topic.endsWith("/cmd/stop")).length,
    2,
    "each stop reached the fleet subscriber once (no echo over the bridge)",
  );
});

Deno.test("evidence queued at the robot's broker while the fleet is down survives a restart of the robot's broker and arrives", async () => {
  await using fleet = await startMosquitto();
  await using local = await startMosquitto({
    extraConfig: await bridgeConfig(fleet),
  });
  await bridgeUp(fleet.url);
  // A persistent session on the fleet: what the bridge forwards is queued
  // for this subscriber even before it reconnects after the fleet restart.
  {
    await using fleetSide = await connectProbe(fleet.url, {
      subscribe: [`cap/v1/robots/${ROBOT}/evidence`],
      persistentId: "fleet-archiver",
    });
    assertEquals(fleetSide.messages.length, 0);
  }
  await fleet.stop();

  {
    await using robotSide = await connectProbe(local.url);
    for (const runId of ["run-1", "run-2", "run-3"]) {
      // Resolves on the local broker's PUBACK: the moment cap-edge's outbox
      // drops the record.
      await robotSide.publish(
        `cap/v1/robots/${ROBOT}/evidence`,
        JSON.stringify({ runId }),
      );
    }
  }
  await local.restart();
  await fleet.start();

  await using fleetSide = await connectProbe(fleet.url, {
    subscribe: [`cap/v1/robots/${ROBOT}/evidence`],
    persistentId: "fleet-archiver",
  });
  await fleetSide.waitFor(
    (messages) => messages.length >= 3,
    "the three queued evidence records on the fleet broker",
    30_000,
  );
  assertEquals(
    fleetSide.messages.map((m) => JSON.parse(m.text).runId).sort(),
    ["run-1", "run-2", "run-3"],
  );
});
