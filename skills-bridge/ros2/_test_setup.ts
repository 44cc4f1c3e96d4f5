/**
 * Shared set-up of the ros2 tests: a configuration, a fake ROS 2 graph in the
 * test process, and a Ros2Backend driving a real bridge process (Node.js)
 * whose rclnodejs is the stand-in, connected to that graph.
 * @module
 */
import type { SkillBackend } from "../skill_backend.ts";
import { type Scene, SimBackend } from "../sim/mod.ts";
import { FakeRos2Graph } from "./_fake_ros2_graph.ts";
import { Ros2Backend } from "./ros2_backend.ts";
import { parseRos2Config, type Ros2ConfigInput } from "./ros2_config.ts";

/** The rclnodejs stand-in the tests inject into the bridge (`--rclnodejs`). */
export const _FAKE_RCLNODEJS: string = new URL(
  "./bridge/testing/fake_rclnodejs.js",
  import.meta.url,
).pathname;

/** The bridge's entry. */
export const _BRIDGE_MAIN: string = new URL(
  "./bridge/main.js",
  import.meta.url,
).pathname;

/** The test configuration: queries as services, pick/place/say as actions, wait local, a spawned bridge. */
export const _TEST_CONFIG: Ros2ConfigInput = {
  nodeName: "cap_edge_test",
  serverTimeoutMs: 300,
  cancelTimeoutMs: 300,
  bridge: { spawn: { node: "node" } },
  heartbeatMs: 200,
  heartbeatTimeoutMs: 3000,
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

/** A Ros2Backend over a spawned bridge whose stand-in talks to `graph`. */
export async function _createOn(
  graph: FakeRos2Graph,
  overrides: Partial<Ros2ConfigInput> = {},
): Promise<Ros2Backend> {
  return await Ros2Backend.create({ ..._TEST_CONFIG, ...overrides }, {
    spawnArgs: ["--rclnodejs", _FAKE_RCLNODEJS],
    spawnEnv: { CAP_FAKE_ROS2_GRAPH: graph.path },
  });
}

/** A Ros2Backend through a real bridge over a fresh graph serving `scene` from a SimBackend; disposing it disposes all. */
export async function _ros2OverSim(
  scene: Scene,
): Promise<SkillBackend & { graph: FakeRos2Graph; ros2: Ros2Backend }> {
  const config = parseRos2Config(_TEST_CONFIG);
  const graph = await FakeRos2Graph.start();
  const sim = new SimBackend(scene);
  const servers = graph.serveBackend(sim, config);
  let ros2: Ros2Backend;
  try {
    ros2 = await _createOn(graph);
  } catch (error) {
    servers[Symbol.dispose]();
    await sim[Symbol.asyncDispose]();
    await graph[Symbol.asyncDispose]();
    throw error;
  }
  return {
    kind: ros2.kind,
    graph,
    ros2,
    invoke: (skill, args, options) => ros2.invoke(skill, args, options),
    world: (options) => ros2.world(options),
    async [Symbol.asyncDispose]() {
      await ros2[Symbol.asyncDispose]();
      servers[Symbol.dispose]();
      await sim[Symbol.asyncDispose]();
      await graph[Symbol.asyncDispose]();
    },
  };
}
