/**
 * Shared set-up of the ros2 tests: a configuration and a Ros2Backend over the
 * rclnodejs stand-in whose servers are a SimBackend.
 * @module
 */
import type { SkillBackend } from "../skill_backend.ts";
import { type Scene, SimBackend } from "../sim/mod.ts";
import { FakeRclnodejs } from "./fake_rclnodejs.ts";
import { Ros2Backend } from "./ros2_backend.ts";
import { parseRos2Config, type Ros2ConfigInput } from "./ros2_config.ts";

/** The test configuration: queries as services, pick/place/say as actions, wait local. */
export const _TEST_CONFIG: Ros2ConfigInput = {
  nodeName: "cap_edge_test",
  serverTimeoutMs: 300,
  cancelTimeoutMs: 300,
  skills: {
    detect: {
      type: "service",
      name: "/cap/detect",
      interface: "cap_msgs/srv/Detect",
    },
    pick: {
      type: "action",
      name: "/cap/pick",
      interface: "cap_msgs/action/Pick",
    },
    place: {
      type: "action",
      name: "/cap/place",
      interface: "cap_msgs/action/Place",
    },
    holding: {
      type: "service",
      name: "/cap/holding",
      interface: "cap_msgs/srv/Holding",
    },
    workspace: {
      type: "service",
      name: "/cap/workspace",
      interface: "cap_msgs/srv/Workspace",
    },
    say: { type: "action", name: "/cap/say", interface: "cap_msgs/action/Say" },
  },
};

/** A Ros2Backend over a fresh stand-in serving `scene` from a SimBackend; disposing it disposes all. */
export async function _ros2OverSim(
  scene: Scene,
): Promise<SkillBackend & { fake: FakeRclnodejs; ros2: Ros2Backend }> {
  const config = parseRos2Config(_TEST_CONFIG);
  const fake = new FakeRclnodejs();
  const sim = new SimBackend(scene);
  const servers = fake.serveBackend(sim, config);
  const ros2 = await Ros2Backend.create(config, { rclnodejs: fake });
  return {
    kind: ros2.kind,
    fake,
    ros2,
    invoke: (skill, args, options) => ros2.invoke(skill, args, options),
    world: (options) => ros2.world(options),
    async [Symbol.asyncDispose]() {
      await ros2[Symbol.asyncDispose]();
      servers[Symbol.dispose]();
      await sim[Symbol.asyncDispose]();
    },
  };
}
