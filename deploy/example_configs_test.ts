import { loadServiceConfig } from "../runtime/mod.ts";
import { parseRos2Config } from "../skills-bridge/mod.ts";
import { assert, assertEquals } from "../test/_assert.ts";
import { _ROOT } from "./_install_layout.ts";

Deno.test("deploy/sim.example.json parses: sim backend, loopback gRPC, local broker, installed paths", async () => {
  const config = await loadServiceConfig(`${_ROOT}/deploy/sim.example.json`);
  assertEquals(config.backend.kind, "sim");
  assertEquals(config.grpc.listen, "127.0.0.1:50051");
  assertEquals(config.mqtt?.url, "mqtt://127.0.0.1:1883");
  assertEquals(config.mqtt?.topicPrefix, "cap/v1");
  assertEquals(config.stateDir, "/var/lib/cap-edge");
  assertEquals(config.trustStore, "/etc/cap-edge/trust.json");
  assert(
    config.backend.kind === "sim" &&
      config.backend.world === "/etc/cap-edge/scene.json",
    "the scene is read from the config dir",
  );
});

Deno.test("deploy/ros2.example.json parses, and so does its ros2 block", async () => {
  const config = await loadServiceConfig(`${_ROOT}/deploy/ros2.example.json`);
  assertEquals(config.backend.kind, "ros2");
  assertEquals(config.grpc.listen, "127.0.0.1:50051");
  assertEquals(config.mqtt?.url, "mqtt://127.0.0.1:1883");
  if (config.backend.kind !== "ros2") throw new Error("unreachable");
  const ros2 = parseRos2Config(config.backend.ros2);
  assertEquals(ros2.skills.pick, {
    type: "action",
    name: "/cap/pick",
    interface: "cap_msgs/action/Pick",
    goal: { object_id: "id" },
    timeoutMs: 30000,
  });
});

Deno.test("the example configs name what the systemd units allow: state and config dirs, the broker address", async () => {
  const unit = await Deno.readTextFile(`${_ROOT}/deploy/cap-edge.service`);
  for (const example of ["sim.example.json", "ros2.example.json"]) {
    const config = await loadServiceConfig(`${_ROOT}/deploy/${example}`);
    const net = new URL(config.mqtt!.url);
    for (
      const granted of [
        // The gRPC listen address is the gateway's alone (its own --allow-net).
        `--allow-net=${net.host}`,
        `--allow-write=${config.stateDir}`,
        `--allow-read=/opt/cap-edge,${
          config.trustStore.replace(/\/[^/]+$/, "")
        },${config.stateDir}`,
      ]
    ) {
      assert(unit.includes(granted), `${example}: the unit grants ${granted}`);
    }
  }
});
