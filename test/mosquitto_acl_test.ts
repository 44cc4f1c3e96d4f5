/**
 * deploy/mosquitto-acl.conf and deploy/mosquitto-secure.conf on a real
 * Mosquitto 2: a robot writes only under its own prefix and reads only its
 * own `cmd/`, the fleet console reads every robot (also through a shared
 * subscription) and sends only `cmd/stop`, strangers cannot connect; the
 * bridge of deploy/mosquitto-bridge.conf logs in as its robot; a real
 * service process works with `mqtt.username` / `mqtt.password`. Also pins
 * the documented limit: an authenticated client can still take another
 * client's id.
 * @module
 */
import mqtt from "mqtt";
import type { IClientOptions, MqttClient } from "mqtt";
import { join } from "node:path";
import { _ROOT } from "../deploy/_install_layout.ts";
import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { makeKey, signed } from "./_edge_fixture.ts";
import { type Mosquitto, startMosquitto } from "./_mosquitto.ts";
import { connectProbe, type ProbeMessage } from "./_mqtt_probe.ts";
import { spawnService } from "./_mqtt_service.ts";

const _SECURE = `${_ROOT}/deploy/mosquitto-secure.conf`;
const _ACL = `${_ROOT}/deploy/mosquitto-acl.conf`;
const _BRIDGE = `${_ROOT}/deploy/mosquitto-bridge.conf`;
const _PASSWD = "/usr/bin/mosquitto_passwd";
/** MQTT 5 reason code "Not authorized". */
const _NOT_AUTHORIZED = 0x87;
/** MQTT 5 reason code "Bad user name or password". */
const _BAD_CREDENTIALS = 0x86;

/** Each user's password on the test broker. */
const _USERS = {
  "arm-01": "arm-01-secret",
  "arm-02": "arm-02-secret",
  fleet: "fleet-secret",
} as const;
type _User = keyof typeof _USERS;

const _topic = (robot: string, rest: string) =>
  `cap/v1/robots/${robot}/${rest}`;

/** A broker with the shipped ACL and the secure lines, and its files. */
interface _SecureBroker extends AsyncDisposable {
  broker: Mosquitto;
  /** The broker URL with `user`'s credentials in it (mqtt.js reads them). */
  urlAs(user: _User): string;
}

/** Creates the password file with mosquitto_passwd, as PROVISIONING.md says. */
async function _passwordFile(path: string): Promise<void> {
  let first = true;
  for (const [user, password] of Object.entries(_USERS)) {
    const args: string[] = first ? ["-b", "-c", path, user, password] : [
      "-b",
      path,
      user,
      password,
    ];
    first = false;
    const { code, stderr }: Deno.CommandOutput = await new Deno.Command(
      _PASSWD,
      {
        args,
        stdout: "null",
        stderr: "piped",
      },
    ).output();
    assertEquals(
      code,
      0,
      `mosquitto_passwd ${user}: ${new TextDecoder().decode(stderr)}`,
    );
  }
}

/**
 * deploy/mosquitto-secure.conf from `allow_anonymous` on (the helper's own
 * listener replaces the TLS one), with the files in `dir`.
 */
async function _secureLines(dir: string): Promise<string> {
  const text = await Deno.readTextFile(_SECURE);
  const start = text.search(/^allow_anonymous /m);
  assert(start >= 0, `${_SECURE} has an allow_anonymous line`);
  const lines = text.slice(start)
    .replace(/^password_file .*$/m, `password_file ${dir}/passwd`)
    .replace(/^acl_file .*$/m, `acl_file ${dir}/acl.conf`);
  assert(/^allow_anonymous false$/m.test(lines), "anonymous access is off");
  assert(lines.includes(`password_file ${dir}/passwd`), "a password file");
  assert(lines.includes(`acl_file ${dir}/acl.conf`), "an ACL file");
  assert(
    !/^\s*use_username_as_clientid/m.test(text),
    "use_username_as_clientid is not set (the service opens two connections)",
  );
  return lines;
}

/** The broker of deploy/mosquitto-secure.conf with the shipped ACL file. */
async function _startSecureBroker(
  extraConfig = "",
): Promise<_SecureBroker> {
  const dir = await Deno.makeTempDir({ prefix: "cap-acl-" });
  try {
    // Mosquitto runs as the "mosquitto" user once started as root.
    await Deno.chmod(dir, 0o755);
    await _passwordFile(join(dir, "passwd"));
    await Deno.copyFile(_ACL, join(dir, "acl.conf"));
    for (const file of ["passwd", "acl.conf"]) {
      await Deno.chmod(join(dir, file), 0o644);
    }
    const broker = await startMosquitto({
      extraConfig: [
        await _secureLines(dir),
        // The helper's `max_queued_messages 0` (no limit) makes Mosquitto
        // 2.0.11 disconnect a client after a refused QoS 1 PUBLISH (it
        // takes the queue as full); the shipped lines leave the default.
        "max_queued_messages 1000",
        extraConfig,
      ].join("\n"),
    });
    return {
      broker,
      urlAs(user) {
        return `mqtt://${user}:${_USERS[user]}@127.0.0.1:${broker.port}`;
      },
      async [Symbol.asyncDispose]() {
        await broker[Symbol.asyncDispose]();
        await Deno.remove(dir, { recursive: true });
      },
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
}

/** A bare MQTT 5 client (no reconnects), disposable. */
async function _connect(
  broker: Mosquitto,
  options: IClientOptions,
): Promise<MqttClient & AsyncDisposable> {
  const client = await mqtt.connectAsync(broker.url, {
    protocolVersion: 5,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
    ...options,
  });
  client.on("error", () => {});
  return Object.assign(client, {
    async [Symbol.asyncDispose]() {
      await client.endAsync(true);
    },
  });
}

/** Connects as `user` with its password. */
function _connectAs(
  broker: Mosquitto,
  user: _User,
  options: IClientOptions = {},
): Promise<MqttClient & AsyncDisposable> {
  return _connect(broker, {
    username: user,
    password: _USERS[user],
    ...options,
  });
}

/** The reason code of a refused publish, connect or subscribe. */
function _reasonCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}

/** Publishes QoS 1 and expects the broker to answer "not authorized". */
async function _assertRefused(
  client: MqttClient,
  topic: string,
  payload: string,
): Promise<void> {
  const error = await assertRejects(
    () => client.publishAsync(topic, payload, { qos: 1 }),
    Error,
  );
  assertEquals(_reasonCode(error), _NOT_AUTHORIZED, `PUBACK for ${topic}`);
}

const _texts = (messages: ProbeMessage[]) => messages.map((m) => m.text);

Deno.test("a robot publishes only under its own prefix; the fleet reads evidence through a shared subscription", async () => {
  await using secure = await _startSecureBroker();
  await using fleet = await connectProbe(secure.urlAs("fleet"), {
    subscribe: [
      "$share/acl-test/cap/v1/robots/+/evidence",
      "cap/v1/robots/+/status",
    ],
  });
  await using arm01 = await _connectAs(secure.broker, "arm-01");

  await arm01.publishAsync(_topic("arm-01", "evidence"), "arm-01 run 1", {
    qos: 1,
  });
  await arm01.publishAsync(_topic("arm-01", "status"), "online", {
    qos: 1,
    retain: true,
  });
  await arm01.publishAsync(_topic("arm-01", "runs/run-1/events"), "{}", {
    qos: 1,
  });
  // Not its own: another robot's evidence and status, and a command (to
  // itself or another robot).
  await _assertRefused(arm01, _topic("arm-02", "evidence"), "forged");
  await _assertRefused(arm01, _topic("arm-02", "status"), "offline");
  await _assertRefused(arm01, _topic("arm-01", "cmd/stop"), "self");
  await _assertRefused(arm01, _topic("arm-02", "cmd/stop"), "other");
  // The fleet console cannot write a robot's topics either.
  await _assertRefused(fleet.client, _topic("arm-01", "evidence"), "forged");
  await arm01.publishAsync(_topic("arm-01", "evidence"), "arm-01 run 2", {
    qos: 1,
  });

  // In order from one publisher: once run 2 is here, anything refused
  // before it would have been too.
  await fleet.waitFor(
    (messages) => _texts(messages).includes("arm-01 run 2"),
    "arm-01's second evidence at the fleet",
  );
  assertEquals(_texts(fleet.messages), [
    "arm-01 run 1",
    "online",
    "arm-01 run 2",
  ]);
  assert(
    fleet.messages.every((m) => m.topic.startsWith("cap/v1/robots/arm-01/")),
    "only arm-01's own topics reached the fleet",
  );
});

Deno.test("a robot reads only its own cmd/; the fleet sends cmd/stop and nothing else", async () => {
  await using secure = await _startSecureBroker();
  await using arm01 = await connectProbe(secure.urlAs("arm-01"));
  await using arm02 = await connectProbe(secure.urlAs("arm-02"), {
    subscribe: [_topic("arm-02", "cmd/stop")],
  });
  await using fleet = await connectProbe(secure.urlAs("fleet"));
  // Mosquitto 2.0 grants any filter (a later version may refuse one: a
  // reason code of 0x80 or more); either way only what arm-01 may read is
  // delivered.
  const granted = await arm01.client.subscribeAsync({
    [_topic("arm-01", "cmd/stop")]: { qos: 1 },
    [_topic("arm-02", "cmd/stop")]: { qos: 1 },
    [_topic("+", "evidence")]: { qos: 1 },
    [_topic("arm-02", "#")]: { qos: 1 },
  });
  assertEquals(granted[0]?.qos, 1, "its own cmd/stop is granted");
  for (const grant of granted.slice(1)) {
    assert(
      grant.qos === 1 || (grant.qos as number) >= 0x80,
      `SUBACK for ${grant.topic}: ${grant.qos}`,
    );
  }

  await fleet.publish(_topic("arm-02", "cmd/stop"), "stop arm-02");
  await arm02.publish(_topic("arm-02", "evidence"), "arm-02 evidence");
  await fleet.publish(_topic("arm-01", "cmd/stop"), "stop arm-01");
  // No other command: only cmd/stop is the fleet's to send.
  await _assertRefused(fleet.client, _topic("arm-01", "cmd/resume"), "{}");
  await _assertRefused(fleet.client, _topic("arm-01", "cmd/run"), "{}");

  await arm02.waitFor(
    (messages) => _texts(messages).includes("stop arm-02"),
    "arm-02's stop at arm-02",
  );
  await arm01.waitFor(
    (messages) => _texts(messages).includes("stop arm-01"),
    "arm-01's stop at arm-01",
  );
  // The fleet's two stops come in order over one connection, and the broker
  // routed arm-02's evidence before its PUBACK, so before arm-01's stop: had
  // either reached arm-01, it would be here by now.
  assertEquals(_texts(arm01.messages), ["stop arm-01"]);
  assertEquals(arm01.messages[0]?.topic, _topic("arm-01", "cmd/stop"));
  assertEquals(_texts(arm02.messages), ["stop arm-02"]);
});

Deno.test("without a valid password nobody connects, nor takes a robot's client id", async () => {
  await using secure = await _startSecureBroker();
  const clientId = "cap-edge-arm-01";
  await using robot = await _connectAs(secure.broker, "arm-01", { clientId });
  let robotClosed = false;
  robot.on("close", () => robotClosed = true);

  for (
    const [what, options] of [
      ["anonymous", {}],
      ["a wrong password", { username: "arm-01", password: "guess" }],
      ["an unknown user", { username: "arm-03", password: "arm-01-secret" }],
      ["a username without password", { username: "fleet" }],
    ] as const
  ) {
    const error = await assertRejects(
      () => _connect(secure.broker, { clientId, ...options }),
      Error,
    );
    const code = _reasonCode(error);
    assert(
      code === _NOT_AUTHORIZED || code === _BAD_CREDENTIALS,
      `${what} is refused at CONNECT: ${code} ${(error as Error).message}`,
    );
  }
  // The robot's session survived all four: a round trip still works.
  await robot.publishAsync(_topic("arm-01", "telemetry"), "{}", { qos: 1 });
  assertEquals(robotClosed, false);
  assertEquals(robot.connected, true);
});

Deno.test("limit (documented in mosquitto-secure.conf): an authenticated client can still take another client's id", async () => {
  await using secure = await _startSecureBroker();
  const clientId = "cap-edge-arm-01";
  await using robot = await _connectAs(secure.broker, "arm-01", { clientId });
  const closed = new Promise<void>((resolve) => robot.once("close", resolve));
  await using intruder = await _connectAs(secure.broker, "arm-02", {
    clientId,
  });
  await closed;
  assertEquals(intruder.connected, true);
  // ... but the taken session does not give it arm-01's topics.
  await _assertRefused(intruder, _topic("arm-01", "evidence"), "forged");
});

Deno.test("the bridge logs in as its robot: its evidence reaches the fleet, other robots' does not, the fleet's stop comes back", async () => {
  await using fleetBroker = await _startSecureBroker();
  const text = await Deno.readTextFile(_BRIDGE);
  const bridge = text
    .replace(/^listener 1883 127\.0\.0\.1$/m, "")
    .replace(/^address .*$/m, `address 127.0.0.1:${fleetBroker.broker.port}`)
    .replace(/^restart_timeout .*$/m, "restart_timeout 1")
    .replace(/^#remote_username arm-01$/m, "remote_username arm-01")
    .replace(/^#remote_password .*$/m, `remote_password ${_USERS["arm-01"]}`);
  assert(
    /^remote_username arm-01$/m.test(bridge) &&
      /^remote_password /m.test(bridge),
    `${_BRIDGE} has the remote_username / remote_password placeholders`,
  );
  await using fleet = await connectProbe(fleetBroker.urlAs("fleet"), {
    subscribe: [
      "$share/acl-test/cap/v1/robots/+/evidence",
      "$SYS/broker/connection/+/state",
    ],
  });
  // The local broker stays anonymous on loopback.
  await using local = await startMosquitto({ extraConfig: bridge });
  await fleet.waitFor(
    (messages) =>
      messages.some((m) =>
        m.topic === "$SYS/broker/connection/cap-bridge-arm-01/state" &&
        m.text === "1"
      ),
    "the bridge's connection notification at the fleet",
  );
  await using robotSide = await connectProbe(local.url, {
    subscribe: [_topic("+", "cmd/stop")],
  });

  // Whatever runs on the robot's host may publish for any robot id on the
  // local broker; the fleet broker takes only arm-01's from this bridge.
  await robotSide.publish(_topic("arm-02", "evidence"), "forged for arm-02");
  await robotSide.publish(_topic("arm-01", "evidence"), "arm-01 evidence");
  await fleet.waitFor(
    (messages) => _texts(messages).includes("arm-01 evidence"),
    "arm-01's evidence at the fleet",
  );
  assertEquals(
    fleet.messages.filter((m) => m.topic.endsWith("/evidence")).map((m) =>
      m.text
    ),
    ["arm-01 evidence"],
  );

  await fleet.publish(_topic("arm-01", "cmd/stop"), "operator");
  await robotSide.waitFor(
    (messages) => _texts(messages).includes("operator"),
    "the fleet's stop on the robot's broker",
  );
});

Deno.test("a real service logs in with mqtt.username/password: its evidence reaches the fleet, the fleet's cmd/stop stops it", async () => {
  const key = await makeKey();
  try {
    await using secure = await _startSecureBroker();
    await using fleet = await connectProbe(secure.urlAs("fleet"), {
      subscribe: [
        "$share/acl-test/cap/v1/robots/+/evidence",
        "cap/v1/robots/+/status",
      ],
    });
    await using service = await spawnService(
      key,
      join(key.dir, "state"),
      secure.broker,
      { username: "arm-01", password: _USERS["arm-01"] },
    );
    const statuses = () =>
      fleet.messages.filter((m) => m.topic === _topic("arm-01", "status"))
        .map((m) => m.text);
    const evidenceOf = (runId: string) =>
      fleet.messages.some((m) =>
        m.topic === _topic("arm-01", "evidence") &&
        (JSON.parse(m.text) as { runId?: string }).runId === runId
      );
    await fleet.waitFor(() => statuses().includes("online"), "arm-01 online");

    using client = service.client();
    for (
      const program of [
        { programId: "tick", source: 'say("tick");' },
        { programId: "spin", source: "while (true) {}" },
      ]
    ) {
      const { receipt } = await client.deliver(await signed(key, program));
      assertEquals(receipt.accepted, true, receipt.message);
    }
    const ticked = await client.run("tick");
    assertEquals(ticked.outcome, "succeeded", ticked.failure?.message);
    await fleet.waitFor(
      () => evidenceOf(ticked.runId),
      "the tick's evidence at the fleet",
    );

    const started = Promise.withResolvers<void>();
    const spinning = client.run("spin", {
      onEvent: (event) => {
        if (event.type === "run_started") started.resolve();
      },
    });
    await started.promise;
    await fleet.publish(
      _topic("arm-01", "cmd/stop"),
      JSON.stringify({ reason: "fleet pressed stop" }),
    );
    const stopped = await spinning;
    assertEquals(stopped.outcome, "stopped");
    assertEquals(stopped.failure?.label, "estop");
    await fleet.waitFor(
      () => evidenceOf(stopped.runId) && statuses().at(-1) === "stopped",
      "the stopped run's evidence and the status stopped at the fleet",
    );
    assert(
      !service.lines.some((l) => l.includes("cannot subscribe")),
      "the service subscribed to its cmd/stop",
    );
    // Close the gRPC client before a graceful shutdown (denoland/deno#36788).
    client.close();
    assertEquals((await service.terminate()).code, 0);
  } finally {
    await Deno.remove(key.dir, { recursive: true });
  }
});
