import {
  assert,
  assertEquals,
  assertStringIncludes,
  assertThrows,
} from "../test/_assert.ts";
import { HELPER_V8_FLAGS } from "../runtime/channel/mod.ts";
import { clientFor, makeKey, signed } from "../test/_edge_fixture.ts";
import { freePort, startMosquitto } from "../test/_mosquitto.ts";
import { connectProbe } from "../test/_mqtt_probe.ts";
import {
  _flagValue,
  _permissionIssues,
  _splitDenoCommand,
} from "./_deno_permissions.ts";
import {
  parseRos2Config,
  parseScene,
  SimBackend,
} from "../skills-bridge/mod.ts";
import { FakeRos2Graph } from "../skills-bridge/ros2/_fake_ros2_graph.ts";
import { _FAKE_RCLNODEJS } from "../skills-bridge/ros2/_test_setup.ts";
import {
  _cacheServiceModules,
  _childEnv,
  _ROOT,
  type _TestLayout,
  _toTestLayout,
} from "./_install_layout.ts";
import { _spawnService } from "./_service_process.ts";
import {
  _parseSystemdUnit,
  _splitCommandLine,
  type _SystemdUnit,
  _unitEnvironment,
  _unitValues,
} from "./_systemd_unit.ts";

const SIM_UNIT_PATH = `${_ROOT}/deploy/cap-edge.service`;
const ROS2_UNIT_PATH = `${_ROOT}/deploy/cap-edge-ros2.service`;

async function readUnit(path: string): Promise<_SystemdUnit> {
  return _parseSystemdUnit(await Deno.readTextFile(path), { source: path });
}

function execStart(unit: _SystemdUnit, layout?: _TestLayout): string[] {
  const lines = _unitValues(unit, "Service", "ExecStart");
  assertEquals(lines.length, 1, "the unit has exactly one ExecStart");
  const line = layout ? _toTestLayout(lines[0]!, layout) : lines[0]!;
  return _splitCommandLine(line);
}

/** Temp dirs and ports standing in for the installed layout. */
async function testLayout(mqttPort: number): Promise<_TestLayout> {
  const dir = await Deno.makeTempDir({ prefix: "cap-edge-unit-" });
  await Deno.mkdir(`${dir}/etc`);
  await Deno.mkdir(`${dir}/state`);
  return {
    etc: `${dir}/etc`,
    state: `${dir}/state`,
    grpcPort: freePort(),
    mqttPort,
  };
}

/** Writes an example config (paths and ports swapped) and the trust store into the layout's etc. */
async function installConfig(
  layout: _TestLayout,
  example: string,
  trustPath: string,
  // deno-lint-ignore no-explicit-any
  options: { heartbeatMs?: number; tweak?: (config: any) => void } = {},
): Promise<void> {
  const text = await Deno.readTextFile(`${_ROOT}/deploy/${example}`);
  const config = JSON.parse(_toTestLayout(text, layout));
  if (options.heartbeatMs !== undefined) {
    config.mqtt.heartbeatMs = options.heartbeatMs;
  }
  options.tweak?.(config);
  await Deno.writeTextFile(
    `${layout.etc}/config.json`,
    JSON.stringify(config),
  );
  await Deno.copyFile(trustPath, `${layout.etc}/trust.json`);
  await Deno.copyFile(
    `${_ROOT}/examples/tabletop.json`,
    `${layout.etc}/scene.json`,
  );
}

async function removeLayout(layout: _TestLayout): Promise<void> {
  await Deno.remove(layout.etc.replace(/\/etc$/, ""), { recursive: true });
}

Deno.test("the units grant the service exactly its permissions", async () => {
  const sim = _splitDenoCommand(execStart(await readUnit(SIM_UNIT_PATH)));
  assertEquals(sim.executable, "/usr/local/bin/deno");
  assertEquals(sim.subcommand, "run");
  assertEquals(sim.script, "/opt/cap-edge/runtime/main.ts");
  assertEquals(sim.scriptArgs, ["--config", "/etc/cap-edge/config.json"]);
  assertEquals(_permissionIssues(sim.flags), []);
  const granted = (flags: string[]) =>
    flags.filter((f) => f.startsWith("--allow-"));
  assertEquals(granted(sim.flags), [
    "--allow-run=/usr/local/bin/deno",
    "--allow-read=/opt/cap-edge,/etc/cap-edge,/var/lib/cap-edge",
    "--allow-write=/var/lib/cap-edge",
    "--allow-net=127.0.0.1:1883,unix:/var/lib/cap-edge/ros2/bridge.sock",
    "--allow-env",
    "--allow-sys=uid,setPriority",
  ]);
  for (const flag of ["--cached-only", "--frozen", "--no-prompt"]) {
    assert(sim.flags.includes(flag), `the sim unit passes ${flag}`);
  }
  // The core runs with the V8 flags its helper processes get.
  assert(
    sim.flags.includes(HELPER_V8_FLAGS),
    `the sim unit passes ${HELPER_V8_FLAGS}`,
  );

  // The ROS 2 bridge is a Node.js process: the core needs no FFI, no /opt/ros.
  const bridge = await readUnit(ROS2_UNIT_PATH);
  assertEquals(execStart(bridge), [
    "/usr/bin/node",
    "/opt/cap-edge/skills-bridge/ros2/bridge/main.js",
    "--socket",
    "/var/lib/cap-edge/ros2/bridge.sock",
  ]);
  assertEquals(_unitValues(bridge, "Service", "EnvironmentFile"), [
    "/etc/cap-edge/ros2.env",
  ]);
  // The core reaches the socket with the permissions it already has.
  const example = JSON.parse(
    await Deno.readTextFile(`${_ROOT}/deploy/ros2.example.json`),
  );
  const socket: string = example.backend.ros2.bridge.socket;
  assertEquals(socket, execStart(bridge)[3]);
  assertEquals(
    `/var/lib/${_unitValues(bridge, "Service", "StateDirectory")[0]}`,
    socket.replace(/\/[^/]+$/, ""),
    "the socket lives in the bridge unit's state directory",
  );
  for (const flag of ["--allow-read", "--allow-write"]) {
    assert(
      (_flagValue(sim.flags, flag) ?? "").split(",").some((dir) =>
        socket.startsWith(`${dir}/`)
      ),
      `the core unit's ${flag} covers ${socket}`,
    );
  }
});

Deno.test("the permission audit refuses -A, --allow-all, --allow-run beyond the Deno binary, and bare lists", () => {
  const base = ["--unstable-worker-options", "--allow-read=/opt/cap-edge"];
  const refused: [string[], string][] = [
    [["-A"], "-A"],
    [["--allow-all"], "--allow-all"],
    [["--allow-run"], "--allow-run"],
    [["--allow-run=/bin/sh"], "--allow-run=/bin/sh"],
    [["--allow-run=/usr/bin/deno,/bin/sh"], "exactly the Deno binary"],
    [["-qA"], "-qA"],
    [["--allow-read"], "without a list"],
    [["--allow-net"], "without a list"],
    [["--allow-write="], "empty list"],
    [["--allow-ffi=/opt/cap-edge/node_modules"], "only the ros2 backend"],
    [["--allow-ffi"], "without a list"],
    [["--allow-import"], "--allow-import"],
    [["--allow-hrtime"], "does not need it"],
  ];
  for (const [extra, expected] of refused) {
    const issues = _permissionIssues([...base, ...extra]);
    assert(
      issues.some((issue) => issue.includes(expected)),
      `${extra.join(" ")} is refused (${expected}); got ${
        JSON.stringify(issues)
      }`,
    );
  }
  assertStringIncludes(
    _permissionIssues(["--allow-read=/x"]).join("\n"),
    "--unstable-worker-options",
  );
  assertEquals(_permissionIssues(base), []);
  // The split refuses what it cannot read the way systemd would.
  assertThrows(() => _splitCommandLine("-/usr/bin/deno run x.ts"), SyntaxError);
  assertThrows(
    () => _splitCommandLine("/usr/bin/deno run $SCRIPT"),
    SyntaxError,
  );
  assertThrows(() => _parseSystemdUnit("ExecStart=/bin/true\n"), SyntaxError);
});

Deno.test("the units carry the hardening settings", async () => {
  const required: [string, string][] = [
    ["User", "cap-edge"],
    ["Group", "cap-edge"],
    ["NoNewPrivileges", "yes"],
    ["ProtectSystem", "strict"],
    ["ProtectHome", "yes"],
    ["PrivateTmp", "yes"],
    ["CapabilityBoundingSet", ""],
    ["AmbientCapabilities", ""],
    ["KillSignal", "SIGTERM"],
    ["RestrictSUIDSGID", "yes"],
  ];
  const own: Record<string, [string, string][]> = {
    [SIM_UNIT_PATH]: [
      ["ReadWritePaths", "/var/lib/cap-edge"],
      ["StateDirectory", "cap-edge"],
      ["Restart", "on-failure"],
    ],
    // The bridge: only its own state dir, and always back after a crash.
    [ROS2_UNIT_PATH]: [
      ["ReadWritePaths", "/var/lib/cap-edge/ros2"],
      ["StateDirectory", "cap-edge/ros2"],
      ["StateDirectoryMode", "0700"],
      ["Restart", "always"],
    ],
  };
  for (const path of [SIM_UNIT_PATH, ROS2_UNIT_PATH]) {
    const unit = await readUnit(path);
    for (const [key, value] of [...required, ...own[path]!]) {
      assertEquals(
        _unitValues(unit, "Service", key),
        [value],
        `${path}: ${key}=${value}`,
      );
    }
    for (const key of ["MemoryMax", "RestartSec", "TimeoutStopSec"]) {
      assert(
        /^\d+[KMGs]?$/.test(_unitValues(unit, "Service", key)[0] ?? ""),
        `${path}: ${key} is set to an amount`,
      );
    }
    assertEquals(
      _unitValues(unit, "Service", "MemoryDenyWriteExecute"),
      [],
      `${path}: V8 needs writable executable memory`,
    );
    assertEquals(_unitValues(unit, "Install", "WantedBy"), [
      "multi-user.target",
    ]);
  }
  assertEquals(
    _unitValues(await readUnit(SIM_UNIT_PATH), "Service", "IPAddressAllow"),
    ["localhost"],
  );
});

const SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze";
const hasSystemdAnalyze = (() => {
  try {
    return Deno.statSync(SYSTEMD_ANALYZE).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "systemd-analyze verify accepts the units",
  ignore: !hasSystemdAnalyze,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "cap-edge-verify-" });
    try {
      for (const path of [SIM_UNIT_PATH, ROS2_UNIT_PATH]) {
        // Its only complaint about the originals is the missing /usr/local/bin/deno.
        const name = path.split("/").pop()!;
        await Deno.writeTextFile(
          `${dir}/${name}`,
          (await Deno.readTextFile(path)).replaceAll(
            "/usr/local/bin/deno",
            Deno.execPath(),
          ),
        );
        const output = await new Deno.Command(SYSTEMD_ANALYZE, {
          args: ["verify", `${dir}/${name}`],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const said = new TextDecoder().decode(output.stderr) +
          new TextDecoder().decode(output.stdout);
        assertEquals(output.code, 0, `${name}: ${said}`);
        assertEquals(said.trim(), "", `${name} verifies without warnings`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the service runs under the unit's exact ExecStart: health, a signed program, evidence over MQTT, SIGTERM exits 0", async () => {
  await _cacheServiceModules();
  await using broker = await startMosquitto();
  const key = await makeKey();
  const layout = await testLayout(broker.port);
  try {
    // A fast heartbeat, so the telemetry path runs under these permissions too.
    await installConfig(layout, "sim.example.json", key.trustPath, {
      heartbeatMs: 100,
    });
    const unit = await readUnit(SIM_UNIT_PATH);
    const argv = execStart(unit, layout);
    assertEquals(_permissionIssues(_splitDenoCommand(argv).flags), []);
    await using probe = await connectProbe(broker.url, {
      subscribe: [
        "cap/v1/robots/arm-01/evidence",
        "cap/v1/robots/arm-01/telemetry",
      ],
    });
    await using service = _spawnService(argv, {
      env: _childEnv(_unitEnvironment(unit)),
      cwd: _ROOT,
    });
    await service.waitForLine(/serving gRPC on 127\.0\.0\.1:/);

    using client = clientFor(`127.0.0.1:${layout.grpcPort}`, key, "arm-01");
    assertEquals(await client.health(), "SERVING");
    const { receipt, evidence } = await client.deliver(
      await signed(key, { robots: ["arm-01"] }),
      { run: true },
    );
    assert(receipt.accepted, `delivery accepted: ${receipt.message}`);
    assertEquals(evidence?.outcome, "succeeded", JSON.stringify(evidence));
    await probe.waitFor(
      (messages) =>
        messages.some((m) => JSON.parse(m.text).runId === evidence?.runId),
      "the run's evidence on the broker",
    );
    await probe.waitFor(
      (messages) => messages.some((m) => m.topic.endsWith("/telemetry")),
      "a telemetry heartbeat",
    );
    assert(
      (await Deno.stat(`${layout.state}/cache.sqlite`)).isFile,
      "the program cache lives in the state dir",
    );

    // Close the channel first: Deno 2.9's HTTP/2 can abort a process that
    // receives GOAWAY on an idle connection (nghttp2 find_stream_on_goaway_func).
    client.close();
    const status = await service.stop("SIGTERM");
    assertEquals(status.code, 0, service.stderr());
    assertStringIncludes(service.stderr(), "received SIGTERM");
    assertStringIncludes(service.stderr(), '"msg":"closed"');
  } finally {
    await removeLayout(layout);
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("the core under its unit drives the bridge under its unit: a signed program runs through ROS 2 (rclnodejs stand-in), SIGTERM ends both with 0", async () => {
  await _cacheServiceModules();
  await using broker = await startMosquitto();
  const key = await makeKey();
  const layout = await testLayout(broker.port);
  try {
    await installConfig(layout, "ros2.example.json", key.trustPath);
    const config = JSON.parse(
      await Deno.readTextFile(`${layout.etc}/config.json`),
    );
    // The robot's action and service servers: a SimBackend behind a fake graph.
    await using graph = await FakeRos2Graph.start();
    await using sim = new SimBackend(
      parseScene(
        JSON.parse(await Deno.readTextFile(`${layout.etc}/scene.json`)),
      ),
    );
    using _servers = graph.serveBackend(
      sim,
      parseRos2Config(config.backend.ros2),
    );

    // systemd's StateDirectory=cap-edge/ros2, then the bridge unit's exact ExecStart.
    await Deno.mkdir(`${layout.state}/ros2`, { mode: 0o700 });
    const bridgeUnit = await readUnit(ROS2_UNIT_PATH);
    await using bridge = _spawnService(
      [...execStart(bridgeUnit, layout), "--rclnodejs", _FAKE_RCLNODEJS],
      {
        env: {
          ..._unitEnvironment(bridgeUnit),
          CAP_FAKE_ROS2_GRAPH: graph.path,
        },
        cwd: _ROOT,
      },
    );
    await bridge.waitForLine(/listening on .*bridge\.sock/);

    const unit = await readUnit(SIM_UNIT_PATH);
    await using service = _spawnService(
      execStart(unit, layout),
      { env: _childEnv(_unitEnvironment(unit)), cwd: _ROOT },
    );
    await service.waitForLine(/serving gRPC on 127\.0\.0\.1:/);
    using client = clientFor(`127.0.0.1:${layout.grpcPort}`, key, "arm-01");
    const { receipt, evidence } = await client.deliver(
      await signed(key, { robots: ["arm-01"] }),
      { run: true },
    );
    assert(receipt.accepted, `delivery accepted: ${receipt.message}`);
    assertEquals(evidence?.outcome, "succeeded", JSON.stringify(evidence));
    assertEquals(
      graph.events.filter((e) => e.kind === "goal_accepted").map((e) => e.name),
      ["/cap/pick", "/cap/place"],
    );
    assertEquals(
      (await sim.world())?.objects.find((o) => o.id === "red_block")?.on,
      "blue_bowl",
    );

    client.close();
    assertEquals((await service.stop("SIGTERM")).code, 0, service.stderr());
    assertEquals((await bridge.stop("SIGTERM")).code, 0, bridge.stderr());
  } finally {
    await removeLayout(layout);
    await Deno.remove(key.dir, { recursive: true });
  }
});

Deno.test("the core with the ros2 backend and no bridge exits 1 naming the socket", async () => {
  await _cacheServiceModules();
  const key = await makeKey();
  const layout = await testLayout(freePort());
  try {
    await installConfig(layout, "ros2.example.json", key.trustPath, {
      tweak: (config) => {
        config.backend.ros2.connectTimeoutMs = 300;
      },
    });
    const unit = await readUnit(SIM_UNIT_PATH);
    await using service = _spawnService(
      execStart(unit, layout),
      { env: _childEnv(_unitEnvironment(unit)), cwd: _ROOT },
    );
    const status = await service.status;
    assertEquals(status.code, 1, service.stderr());
    assertStringIncludes(service.stderr(), "no ROS 2 bridge was ready on");
    assertStringIncludes(
      service.stderr(),
      `${layout.state}/ros2/bridge.sock`,
    );
    assert(!service.stderr().includes("Requires net access"));
  } finally {
    await removeLayout(layout);
    await Deno.remove(key.dir, { recursive: true });
  }
});
