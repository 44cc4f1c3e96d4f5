/**
 * The rclnodejs stand-in (`bridge/testing/fake_rclnodejs.js`) against the
 * fake graph, in this process: the rules the bridge's tests rely on.
 * @module
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../_assert.ts";
import {
  CancelReturnCode,
  FakeRos2Graph,
  GoalStatus,
} from "./_fake_ros2_graph.ts";
import rcl from "./bridge/testing/fake_rclnodejs.js";

const PICK = ["/pick", "cap_msgs/action/Pick"] as const;

/** Runs `fn` with the stand-in initialised against a fresh graph. */
async function _withGraph(
  fn: (graph: FakeRos2Graph) => Promise<void>,
): Promise<void> {
  await using graph = await FakeRos2Graph.start();
  Deno.env.set("CAP_FAKE_ROS2_GRAPH", graph.path);
  try {
    await rcl.init();
    try {
      await fn(graph);
    } finally {
      rcl.shutdown();
    }
  } finally {
    Deno.env.delete("CAP_FAKE_ROS2_GRAPH");
  }
}

Deno.test("the stand-in refuses an init without a graph, a second init and a node before init", async () => {
  await assertRejects(() => rcl.init(), Error);
  assertThrows(() => new rcl.Node("early"), Error);
  await _withGraph(async () => {
    await assertRejects(() => rcl.init(), Error);
    const node = new rcl.Node("n");
    node.spin();
    assertThrows(() => node.spin(), Error);
  });
});

Deno.test("messages reach a node only once it spins, and only with a matching QoS", async () => {
  await _withGraph(async (graph) => {
    const node = new rcl.Node("n");
    const seen: unknown[] = [];
    const bestEffort = new rcl.QoS(1, 1, 2, 2);
    node.createSubscription(
      "std_msgs/msg/Bool",
      "/t",
      { qos: bestEffort },
      (m) => seen.push(m.data),
    );
    await graph.untilSubscribed("/t");
    assertEquals(graph.publish("/t", "std_msgs/msg/Bool", { data: true }), 1);
    assertEquals(
      graph.publish("/t", "std_msgs/msg/String", { data: "other" }),
      0,
    );
    // A round trip through a spinning node: by its reply, the message for
    // `node` has arrived too (same socket, sent before), and waits for spin().
    const probe = new rcl.Node("probe");
    probe.spin();
    const probeClient = new rcl.ActionClient(probe, PICK[1], PICK[0]);
    assertEquals(await probeClient.waitForServer(0), false);
    assertEquals(seen, []);
    node.spin();
    const client = new rcl.ActionClient(node, PICK[1], PICK[0]);
    assertEquals(await client.waitForServer(0), false);
    assertEquals(seen, [true]);
  });
});

Deno.test("goal handles follow the action protocol", async () => {
  await _withGraph(async (graph) => {
    const node = new rcl.Node("n");
    node.spin();
    let finish = () => {};
    using _server = graph.addActionServer(...PICK, {
      goal: (request) => request.object_id === "bad" ? "reject" : "accept",
      cancel: (goal) =>
        goal.request.object_id === "stubborn" ? "reject" : "accept",
      execute: (goal) =>
        new Promise((resolve) => {
          finish = () => {
            goal.succeed();
            resolve({ error_code: "" });
          };
          goal.cancelSignal.addEventListener("abort", () => {
            goal.canceled();
            resolve({ error_code: "cancelled" });
          });
        }),
    });
    const client = new rcl.ActionClient(node, PICK[1], PICK[0]);
    assert(await client.waitForServer(0));

    const rejected = await client.sendGoal({ object_id: "bad" });
    assertEquals([rejected.isAccepted(), rejected.accepted, rejected.status], [
      false,
      false,
      GoalStatus.STATUS_UNKNOWN,
    ]);

    const uuid = Uint8Array.from({ length: 16 }, (_, i) => i);
    const done = await client.sendGoal({ object_id: "a" }, undefined, {
      uuid,
    });
    assert(done.isAccepted());
    assertEquals(
      done.goalId.uuid,
      uuid,
      "the goal carries the id it was given",
    );
    const result = done.getResult();
    await graph.untilEvent((e) => e.kind === "goal_accepted");
    finish();
    assertEquals(await result, { error_code: "" });
    assertEquals(done.status, GoalStatus.STATUS_SUCCEEDED);
    assertEquals(
      (await done.cancelGoal()).return_code,
      CancelReturnCode.ERROR_GOAL_TERMINATED,
    );

    const stubborn = await client.sendGoal({ object_id: "stubborn" });
    assertEquals(
      (await stubborn.cancelGoal()).return_code,
      CancelReturnCode.ERROR_REJECTED,
    );
    finish();
    await stubborn.getResult();
    assertEquals(stubborn.status, GoalStatus.STATUS_SUCCEEDED);

    const cancelled = await client.sendGoal({ object_id: "c" });
    const response = await cancelled.cancelGoal();
    assertEquals(response.return_code, CancelReturnCode.ERROR_NONE);
    assertEquals(response.goals_canceling.length, 1);
    assertEquals(await cancelled.getResult(), { error_code: "cancelled" });
    assertEquals(cancelled.status, GoalStatus.STATUS_CANCELED);
  });
});

Deno.test("a goal can be cancelled by id through the action's cancel service, as a new bridge does", async () => {
  await _withGraph(async (graph) => {
    const node = new rcl.Node("n");
    node.spin();
    using _server = graph.addActionServer(...PICK, {
      execute: (goal) =>
        new Promise((resolve) => {
          goal.cancelSignal.addEventListener("abort", () => {
            goal.canceled();
            resolve({});
          });
        }),
    });
    const client = new rcl.ActionClient(node, PICK[1], PICK[0]);
    const uuid = Uint8Array.from({ length: 16 }, (_, i) => 200 + i);
    const handle = await client.sendGoal({ object_id: "a" }, undefined, {
      uuid,
    });
    const service = node.createClient(
      "action_msgs/srv/CancelGoal",
      `${PICK[0]}/_action/cancel_goal`,
    );
    assert(await service.waitForService(0));
    const response = await new Promise<Record<string, unknown>>((resolve) =>
      service.sendRequest({
        goal_info: {
          goal_id: { uuid: Array.from(uuid) },
          stamp: { sec: 0, nanosec: 0 },
        },
      }, resolve)
    );
    assertEquals(response.return_code, CancelReturnCode.ERROR_NONE);
    await handle.getResult();
    assertEquals(handle.status, GoalStatus.STATUS_CANCELED);
  });
});
