import { assertEquals, assertThrows } from "../_assert.ts";
import { parseRos2Config, ROS2_BRIDGE_SOCKET } from "./ros2_config.ts";
import { _TEST_CONFIG } from "./_test_setup.ts";

function assertMatch(text: string, pattern: RegExp): void {
  if (!pattern.test(text)) {
    throw new Error(`${JSON.stringify(text)} should match ${pattern}`);
  }
}

Deno.test("the example service configuration's ros2 section parses", async () => {
  const text = await Deno.readTextFile(
    new URL("../../deploy/ros2.example.json", import.meta.url),
  );
  const service = JSON.parse(text);
  assertEquals(service.backend.kind, "ros2");
  const config = parseRos2Config(service.backend.ros2);
  assertEquals(config.skills.pick, {
    type: "action",
    name: "/cap/pick",
    interface: "cap_msgs/action/Pick",
    goal: { object_id: "id" },
    timeoutMs: 30_000,
  });
  assertEquals(config.skills.say, "local");
  assertEquals(config.bridge, { socket: ROS2_BRIDGE_SOCKET });
  assertEquals(config.estopQos, { reliability: "reliable", depth: 10 });
});

Deno.test("the configuration fills its defaults", () => {
  const config = parseRos2Config(_TEST_CONFIG);
  assertEquals(config.estopTopic, "/cap/estop");
  assertEquals(config.namespace, "");
  assertEquals(config.skills.wait, "local");
  assertEquals(config.skills.detect.timeoutMs, 60_000);
  assertEquals(config.estopQos, { reliability: "reliable", depth: 10 });
  const { bridge: _spawned, ...withoutBridge } = _TEST_CONFIG;
  assertEquals(parseRos2Config(withoutBridge).bridge, {
    socket: "/var/lib/cap-edge/ros2/bridge.sock",
  });
  assertEquals(config.bridge, { spawn: { node: "node" } });
  assertEquals(config.heartbeatTimeoutMs, 3000);
  assertEquals(
    parseRos2Config({
      ..._TEST_CONFIG,
      estopQos: { reliability: "best_effort" },
    }).estopQos,
    { reliability: "best_effort", depth: 10 },
  );
  assertEquals(
    parseRos2Config({ ..._TEST_CONFIG, estopTopic: null }).estopTopic,
    null,
  );
});

Deno.test("the configuration names its bad fields", () => {
  const error = assertThrows(
    () =>
      parseRos2Config({
        ..._TEST_CONFIG,
        serverTimeoutMs: -1,
        estopQos: { reliability: "sometimes" },
        bridge: { socket: "" },
        skills: {
          ..._TEST_CONFIG.skills,
          pick: {
            type: "action",
            name: "/cap/pick",
            interface: "cap_msgs/srv/Pick",
            goal: { object_id: "colour" },
          },
          holding: { type: "service", name: "no spaces", interface: "x" },
        },
      }),
    TypeError,
  );
  assertMatch(error.message, /^Cannot load the ROS 2 backend configuration: /);
  assertMatch(error.message, /serverTimeoutMs: /);
  assertMatch(error.message, /estopQos\.reliability: /);
  assertMatch(error.message, /bridge\.socket: /);
  assertMatch(error.message, /skills\.pick\.interface: a action needs/);
  assertMatch(
    error.message,
    /skills\.pick\.goal\.object_id: pick offers "id", got "colour"/,
  );
  assertMatch(error.message, /skills\.holding\.name: a ROS 2 name is/);
  assertMatch(
    error.message,
    /skills\.holding\.interface: an interface type is/,
  );
  assertThrows(() => parseRos2Config({ nodeName: "x" }), TypeError);
});
