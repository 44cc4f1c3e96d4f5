import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../_assert.ts";
import { FakeRclnodejs } from "./fake_rclnodejs.ts";
import { CancelReturnCode, GoalStatus } from "./_rclnodejs_types.ts";

const PICK = ["/pick", "cap_msgs/action/Pick"] as const;

Deno.test("the stand-in refuses nodes before init and a second init", async () => {
  const rcl = new FakeRclnodejs();
  assertThrows(() => new rcl.Node("early"), Error);
  await rcl.init();
  await assertRejects(() => rcl.init(), Error);
  const node = new rcl.Node("n");
  node.spin();
  assertThrows(() => node.spin(), Error);
  rcl.shutdown();
  assertEquals(rcl.nodes, 0);
});

Deno.test("messages reach a node only once it spins", async () => {
  const rcl = new FakeRclnodejs();
  await rcl.init();
  const node = new rcl.Node("n");
  const seen: unknown[] = [];
  node.createSubscription("std_msgs/msg/Bool", "/t", (m) => seen.push(m.data));
  rcl.publish("/t", "std_msgs/msg/Bool", { data: true });
  rcl.publish("/t", "std_msgs/msg/String", { data: "other type" });
  await Promise.resolve();
  assertEquals(seen, []);
  node.spin();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(seen, [true]);
  rcl.shutdown();
});

Deno.test("goal handles follow the action protocol", async () => {
  const rcl = new FakeRclnodejs();
  await rcl.init();
  const node = new rcl.Node("n");
  node.spin();
  let finish = () => {};
  using _server = rcl.addActionServer(...PICK, {
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
  assertEquals([rejected.accepted, rejected.status], [
    false,
    GoalStatus.STATUS_UNKNOWN,
  ]);

  const done = await client.sendGoal({ object_id: "a" });
  assertEquals([done.accepted, done.status], [
    true,
    GoalStatus.STATUS_ACCEPTED,
  ]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(done.status, GoalStatus.STATUS_EXECUTING);
  const result = done.getResult();
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
  rcl.shutdown();
});

Deno.test("waitForServer ends false after its timeout or when the client is destroyed", async () => {
  const rcl = new FakeRclnodejs();
  await rcl.init();
  const node = new rcl.Node("n");
  const client = new rcl.ActionClient(node, PICK[1], PICK[0]);
  assertEquals(await client.waitForServer(5), false);
  const forever = client.waitForServer();
  client.destroy();
  assertEquals(await forever, false);
  const service = node.createClient("cap_msgs/srv/Detect", "/detect");
  const waiting = service.waitForService(10_000);
  using _server = rcl.addService("/detect", "cap_msgs/srv/Detect", () => ({}));
  assertEquals(await waiting, true);
  rcl.shutdown();
});
