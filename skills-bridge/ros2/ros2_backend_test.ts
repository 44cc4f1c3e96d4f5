import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
} from "../_assert.ts";
import { parseScene } from "../sim/mod.ts";
import { BackendDisposedError, type SkillOutcome } from "../skill_backend.ts";
import {
  FakeRos2Graph,
  type FakeServerGoalHandle,
  GoalStatus,
} from "./_fake_ros2_graph.ts";
import { Ros2Backend } from "./ros2_backend.ts";
import { Ros2UnavailableError } from "./ros2_unavailable_error.ts";
import {
  _createOn as _create,
  _FAKE_RCLNODEJS,
  _ros2OverSim,
  _TEST_CONFIG,
} from "./_test_setup.ts";

const PICK = ["/cap/pick", "cap_msgs/action/Pick"] as const;

function assertMatch(text: string, pattern: RegExp): void {
  assert(pattern.test(text), `${JSON.stringify(text)} should match ${pattern}`);
}

function _code(outcome: SkillOutcome): string {
  return outcome.ok ? "ok" : outcome.error.code;
}

function _message(outcome: SkillOutcome): string {
  return outcome.ok ? "" : outcome.error.message;
}

/** Resolves when the server accepted a cancel request for `goal`. */
function _cancelled(goal: FakeServerGoalHandle): Promise<void> {
  return new Promise((resolve) => {
    if (goal.isCancelRequested) return resolve();
    goal.cancelSignal.addEventListener("abort", () => resolve(), {
      once: true,
    });
  });
}

/** An action server that runs until cancelled; `started` resolves with each goal. */
function _untilCancelled(fake: FakeRos2Graph, cancel?: "accept" | "ignore") {
  const goals: FakeServerGoalHandle[] = [];
  let announce = () => {};
  const started = () =>
    new Promise<FakeServerGoalHandle>((resolve) => {
      announce = () => resolve(goals[goals.length - 1]!);
      if (goals.length > 0) announce();
    });
  const server = fake.addActionServer(...PICK, {
    cancel: () => cancel ?? "accept",
    async execute(goal) {
      goals.push(goal);
      announce();
      await _cancelled(goal);
      goal.canceled();
      return {};
    },
  });
  return { server, started };
}

Deno.test("a pick goal carries the object id and its result maps to ok", async () => {
  await using fake = await FakeRos2Graph.start();
  using _server = fake.addActionServer(...PICK, {
    execute(goal) {
      goal.succeed();
      return { error_code: "", error_message: "" };
    },
  });
  await using backend = await _create(fake);
  const outcome = await backend.invoke("pick", ["red_block"]);
  assertEquals(outcome, { ok: true, value: null });
  assertEquals(fake.events.map((e) => [e.kind, e.name, e.message]), [
    ["goal_accepted", "/cap/pick", { object_id: "red_block" }],
    ["goal_ended", "/cap/pick", undefined],
  ]);
  assertEquals(fake.events[1]?.status, GoalStatus.STATUS_SUCCEEDED);
});

Deno.test("a rejected goal ends backend_error naming the action", async () => {
  await using fake = await FakeRos2Graph.start();
  using _server = fake.addActionServer(...PICK, {
    goal: () => "reject",
    execute: () => ({}),
  });
  await using backend = await _create(fake);
  const outcome = await backend.invoke("pick", ["red_block"]);
  assertEquals(_code(outcome), "backend_error");
  assertMatch(_message(outcome), /"\/cap\/pick".*rejected the goal/);
  assertEquals(fake.events.map((e) => e.kind), ["goal_rejected"]);
});

Deno.test("action feedback reaches onFeedback in order", async () => {
  await using fake = await FakeRos2Graph.start();
  using _server = fake.addActionServer(...PICK, {
    execute(goal) {
      goal.publishFeedback({ stage: "approach", progress: 0.5 });
      goal.publishFeedback({ stage: "grasp", progress: 1 });
      goal.succeed();
      return {};
    },
  });
  await using backend = await _create(fake);
  const seen: unknown[] = [];
  const outcome = await backend.invoke("pick", ["red_block"], {
    onFeedback: (feedback) => seen.push(feedback),
  });
  assertEquals(_code(outcome), "ok");
  assertEquals(seen, [
    { stage: "approach", progress: 0.5 },
    { stage: "grasp", progress: 1 },
  ]);
});

Deno.test("aborting the signal sends cancelGoal and ends cancelled", async () => {
  await using fake = await FakeRos2Graph.start();
  const { server, started } = _untilCancelled(fake);
  using _server = server;
  await using backend = await _create(fake);
  const controller = new AbortController();
  const running = backend.invoke("pick", ["red_block"], {
    signal: controller.signal,
  });
  const goal = await started();
  controller.abort();
  const outcome = await running;
  assertEquals(_code(outcome), "cancelled");
  assert(goal.isCancelRequested);
  assertEquals(goal.status, GoalStatus.STATUS_CANCELED);
  assertEquals(fake.events.map((e) => e.kind), [
    "goal_accepted",
    "cancel_requested",
    "goal_ended",
  ]);
});

Deno.test("a cancel the server never answers still ends after cancelTimeoutMs", async () => {
  await using fake = await FakeRos2Graph.start();
  const { server, started } = _untilCancelled(fake, "ignore");
  using _server = server;
  await using backend = await _create(fake, { cancelTimeoutMs: 50 });
  const controller = new AbortController();
  const running = backend.invoke("pick", ["red_block"], {
    signal: controller.signal,
  });
  const goal = await started();
  controller.abort();
  assertEquals(_code(await running), "cancelled");
  assert(!goal.isCancelRequested, "the server ignored the cancel request");
  assertEquals(goal.status, GoalStatus.STATUS_EXECUTING);
  assertEquals(fake.events.map((e) => e.kind), [
    "goal_accepted",
    "cancel_requested",
  ]);
});

Deno.test("a goal past its timeoutMs is cancelled and ends backend_error", async () => {
  await using fake = await FakeRos2Graph.start();
  const { server } = _untilCancelled(fake);
  using _server = server;
  const skills = {
    ..._TEST_CONFIG.skills,
    pick: { type: "action", name: PICK[0], interface: PICK[1], timeoutMs: 30 },
  } as const;
  await using backend = await _create(fake, { skills });
  const outcome = await backend.invoke("pick", ["red_block"]);
  assertEquals(_code(outcome), "backend_error");
  assertMatch(_message(outcome), /"\/cap\/pick" did not finish within 30 ms/);
  assert(fake.events.some((e) => e.kind === "cancel_requested"));
});

Deno.test("a missing action server is backend_error naming the action", async () => {
  await using fake = await FakeRos2Graph.start();
  await using backend = await _create(fake, { serverTimeoutMs: 20 });
  const outcome = await backend.invoke("pick", ["red_block"]);
  assertEquals(_code(outcome), "backend_error");
  assertMatch(
    _message(outcome),
    /action "\/cap\/pick" \(cap_msgs\/action\/Pick\) has no server .*20 ms/,
  );
  const detect = await backend.invoke("detect", []);
  assertEquals(_code(detect), "backend_error");
  assertMatch(_message(detect), /service "\/cap\/detect".* has no server/);
  assertEquals(await backend.world(), null);
});

Deno.test("a server of another interface type does not match", async () => {
  await using fake = await FakeRos2Graph.start();
  using _server = fake.addActionServer(PICK[0], "other_msgs/action/Pick", {
    execute: () => ({}),
  });
  await using backend = await _create(fake, { serverTimeoutMs: 20 });
  assertEquals(
    _code(await backend.invoke("pick", ["red_block"])),
    "backend_error",
  );
});

Deno.test("a server that appears while the backend waits is used", async () => {
  await using fake = await FakeRos2Graph.start();
  await using backend = await _create(fake, { serverTimeoutMs: 10_000 });
  const running = backend.invoke("pick", ["red_block"]);
  using _server = fake.addActionServer(...PICK, {
    execute(goal) {
      goal.succeed();
      return {};
    },
  });
  assertEquals(_code(await running), "ok");
});

Deno.test("each terminal status maps onto the skill error codes", async (t) => {
  const cases: {
    name: string;
    end: (goal: FakeServerGoalHandle) => Promise<Record<string, unknown>>;
    code: string;
    message?: RegExp;
  }[] = [
    {
      name: "SUCCEEDED",
      end: (goal) => {
        goal.succeed();
        return Promise.resolve({ error_code: "", error_message: "" });
      },
      code: "ok",
    },
    {
      name: "SUCCEEDED with an error code",
      end: (goal) => {
        goal.succeed();
        return Promise.resolve({ error_code: "blocked", error_message: "" });
      },
      code: "blocked",
    },
    {
      name: "ABORTED with an error code",
      end: (goal) => {
        goal.abort();
        return Promise.resolve({
          error_code: "grasp_failed",
          error_message: "the block slipped",
        });
      },
      code: "grasp_failed",
      message: /^the block slipped$/,
    },
    {
      name: "ABORTED without an error code",
      end: (goal) => {
        goal.abort();
        return Promise.resolve({});
      },
      code: "backend_error",
      message: /aborted the goal without an error code/,
    },
    {
      name: "ABORTED with an unknown error code",
      end: (goal) => {
        goal.abort();
        return Promise.resolve({ error_code: "melted", error_message: "" });
      },
      code: "backend_error",
      message: /unknown error code "melted"/,
    },
    {
      name: "an execute that returns without ending the goal (ABORTED)",
      end: () => Promise.resolve({}),
      code: "backend_error",
    },
    {
      name: "CANCELED by another client",
      end: async (goal) => {
        fakeRef?.cancelAllGoals(PICK[0]);
        await _cancelled(goal);
        goal.canceled();
        return {};
      },
      code: "cancelled",
      message: /cancelled the goal/,
    },
  ];
  let fakeRef: FakeRos2Graph | undefined;
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using fake = await FakeRos2Graph.start();
      fakeRef = fake;
      using _server = fake.addActionServer(...PICK, { execute: c.end });
      await using backend = await _create(fake);
      const outcome = await backend.invoke("pick", ["red_block"]);
      assertEquals(_code(outcome), c.code);
      if (c.message !== undefined) assertMatch(_message(outcome), c.message);
    });
  }
});

Deno.test("service results decode into the skill API's values", async () => {
  await using fake = await FakeRos2Graph.start();
  using _detect = fake.addService(
    "/cap/detect",
    "cap_msgs/srv/Detect",
    (r) => ({
      error_code: "",
      objects: [
        { id: "a", kind: "block", color: "red", x: 0.1, y: -0.5, z: 0, on: "" },
        {
          id: "b",
          kind: "block",
          color: "blue",
          x: 0.1,
          y: -0.5,
          z: 0.04,
          on: "a",
        },
      ].filter((o) => `${o.color} ${o.kind}`.includes(String(r.query))),
    }),
  );
  using _holding = fake.addService(
    "/cap/holding",
    "cap_msgs/srv/Holding",
    () => ({ object_id: "" }),
  );
  using _workspace = fake.addService(
    "/cap/workspace",
    "cap_msgs/srv/Workspace",
    () => ({ x_min: -0.3, x_max: 0.3, y_min: -0.8, y_max: -0.2 }),
  );
  await using backend = await _create(fake);
  assertEquals(await backend.invoke("detect", ["blue"]), {
    ok: true,
    value: [{
      id: "b",
      kind: "block",
      color: "blue",
      x: 0.1,
      y: -0.5,
      z: 0.04,
      on: "a",
    }],
  });
  assertEquals(fake.events.at(-1)?.message, { query: "blue" });
  assertEquals(await backend.invoke("holding", []), { ok: true, value: null });
  assertEquals(await backend.invoke("workspace", []), {
    ok: true,
    value: { xMin: -0.3, xMax: 0.3, yMin: -0.8, yMax: -0.2 },
  });
  const world = await backend.world();
  assertEquals(world?.objects.map((o) => [o.id, o.on]), [["a", null], [
    "b",
    "a",
  ]]);
  assertEquals(fake.events.at(-2)?.message, { query: "" });
});

Deno.test("a result message that breaks the conventions is backend_error naming the field", async () => {
  await using fake = await FakeRos2Graph.start();
  using _detect = fake.addService(
    "/cap/detect",
    "cap_msgs/srv/Detect",
    () => ({ objects: [{ id: "a", kind: "block" }] }),
  );
  await using backend = await _create(fake);
  const outcome = await backend.invoke("detect", []);
  assertEquals(_code(outcome), "backend_error");
  assertMatch(
    _message(outcome),
    /objects\[0\]: field "color" must be a string/,
  );
});

Deno.test("a custom goal mapping builds nested goal fields", async () => {
  await using fake = await FakeRos2Graph.start();
  using _server = fake.addActionServer("/arm/place", "arm_msgs/action/Place", {
    execute(goal) {
      goal.succeed();
      return {};
    },
  });
  const skills = {
    ..._TEST_CONFIG.skills,
    place: {
      type: "action",
      name: "/arm/place",
      interface: "arm_msgs/action/Place",
      goal: {
        "target.id": "target_id",
        "target.pose.x": "x",
        "target.pose.y": "y",
        on_object: "on_object",
      },
    },
  } as const;
  await using backend = await _create(fake, { skills });
  assertEquals(
    _code(await backend.invoke("place", [{ x: 0.1, y: -0.4 }])),
    "ok",
  );
  assertEquals(fake.events[0]?.message, {
    target: { id: "", pose: { x: 0.1, y: -0.4 } },
    on_object: false,
  });
});

Deno.test("wait runs locally and is cancellable", async () => {
  await using fake = await FakeRos2Graph.start();
  await using backend = await _create(fake);
  assertEquals(await backend.invoke("wait", [0.001]), {
    ok: true,
    value: null,
  });
  const controller = new AbortController();
  const running = backend.invoke("wait", [60], { signal: controller.signal });
  controller.abort();
  assertEquals(_code(await running), "cancelled");
  assertEquals(
    _code(await backend.invoke("wait", [1], { signal: AbortSignal.abort() })),
    "cancelled",
  );
});

Deno.test("an e-stop message cancels goals in flight and reaches onEstop", async () => {
  await using fake = await FakeRos2Graph.start();
  const { server, started } = _untilCancelled(fake);
  using _server = server;
  await using backend = await _create(fake);
  await fake.untilSubscribed("/cap/estop");
  let stops = 0;
  const registration = backend.onEstop(() => stops++);
  const running = backend.invoke("pick", ["red_block"]);
  await started();
  fake.publish("/cap/estop", "std_msgs/msg/Bool", { data: false });
  fake.publish("/cap/estop", "std_msgs/msg/Bool", { data: true });
  const outcome = await running;
  assertEquals(_code(outcome), "cancelled");
  assertMatch(_message(outcome), /emergency stop/);
  assertEquals(stops, 1, "the e-stop came before the cancelled result");
  assert(fake.events.some((e) => e.kind === "cancel_requested"));
  registration[Symbol.dispose]();
  const again = Promise.withResolvers<void>();
  using _other = backend.onEstop(() => again.resolve());
  fake.publish("/cap/estop", "std_msgs/msg/Bool", { data: true });
  await again.promise;
  assertEquals(stops, 1, "a disposed registration is not called");
});

Deno.test("the e-stop topic name is configurable", async () => {
  await using fake = await FakeRos2Graph.start();
  await using backend = await _create(fake, { estopTopic: "/robot/estop" });
  await fake.untilSubscribed("/robot/estop");
  const stopped = Promise.withResolvers<void>();
  using _registration = backend.onEstop(() => stopped.resolve());
  assertEquals(
    fake.publish("/cap/estop", "std_msgs/msg/Bool", { data: true }),
    0,
    "nobody listens on the default topic",
  );
  assertEquals(
    fake.publish("/robot/estop", "std_msgs/msg/Bool", { data: true }),
    1,
  );
  await stopped.promise;
});

Deno.test("the e-stop subscription's QoS is configurable: a best-effort publisher reaches only a best-effort subscription", async () => {
  await using fake = await FakeRos2Graph.start();
  const bool = "std_msgs/msg/Bool";
  {
    await using reliable = await _create(fake);
    await fake.untilSubscribed("/cap/estop");
    assertEquals(
      fake.publish("/cap/estop", bool, { data: true }, {
        reliability: "best_effort",
      }),
      0,
      "DDS does not match a best-effort writer with a reliable reader",
    );
    const heard = Promise.withResolvers<void>();
    using _r = reliable.onEstop(() => heard.resolve());
    assertEquals(fake.publish("/cap/estop", bool, { data: true }), 1);
    await heard.promise;
  }
  await using bestEffort = await _create(fake, {
    estopQos: { reliability: "best_effort", depth: 1 },
  });
  await fake.untilSubscribed("/cap/estop");
  const heard = Promise.withResolvers<void>();
  using _b = bestEffort.onEstop(() => heard.resolve());
  assertEquals(
    fake.publish("/cap/estop", bool, { data: true }, {
      reliability: "best_effort",
    }),
    1,
  );
  await heard.promise;
});

Deno.test("a disposed backend refuses skills with BackendDisposedError", async () => {
  await using fake = await FakeRos2Graph.start();
  const backend = await _create(fake);
  assert(backend.connected);
  await backend[Symbol.asyncDispose]();
  assert(!backend.connected);
  const error = await assertRejects(
    () => backend.invoke("pick", ["a"]),
    BackendDisposedError,
  );
  assertMatch(error.message, /Cannot run pick: the ros2 backend/);
});

Deno.test("an rclnodejs whose init fails is Ros2UnavailableError", async () => {
  // The stand-in's init() fails without a graph to reach, as rcl without a middleware.
  const error = await assertRejects(
    () =>
      Ros2Backend.create(_TEST_CONFIG, {
        spawnArgs: ["--rclnodejs", _FAKE_RCLNODEJS],
      }),
    Ros2UnavailableError,
  );
  assertMatch(
    error.message,
    /rclnodejs\.init\(\) failed.*failed to initialize rcl/,
  );
});

Deno.test("without a sourced ROS 2 the bridge refuses to import the real rclnodejs", async () => {
  const error = await assertRejects(
    () =>
      Ros2Backend.create(_TEST_CONFIG, { spawnEnv: { AMENT_PREFIX_PATH: "" } }),
    Ros2UnavailableError,
  );
  assertMatch(error.message, /ROS 2 is not sourced \(AMENT_PREFIX_PATH/);
  assertInstanceOf(error, Error);
  assertEquals(error.name, "Ros2UnavailableError");
});

Deno.test("no bridge on the configured socket is Ros2UnavailableError after connectTimeoutMs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cap-edge-ros2-" });
  try {
    const error = await assertRejects(
      () =>
        Ros2Backend.create({
          ..._TEST_CONFIG,
          bridge: { socket: `${dir}/bridge.sock` },
          connectTimeoutMs: 300,
        }),
      Ros2UnavailableError,
    );
    assertMatch(
      error.message,
      /no ROS 2 bridge was ready on ".*bridge\.sock" within 300 ms/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dispose cancels the goals in flight", async () => {
  await using fake = await FakeRos2Graph.start();
  const { server, started } = _untilCancelled(fake);
  using _server = server;
  const backend = await _create(fake);
  const running = backend.invoke("pick", ["red_block"]);
  const goal = await started();
  await backend[Symbol.asyncDispose]();
  assertEquals(_code(await running), "cancelled");
  await fake.untilEvent((e) => e.kind === "goal_ended");
  assertEquals(goal.status, GoalStatus.STATUS_CANCELED);
});

Deno.test("world() over a SimBackend-driven server includes the held object", async () => {
  await using backend = await _ros2OverSim(parseScene({
    objects: [
      { id: "a", kind: "block", color: "red", x: 0.1, y: -0.5 },
      { id: "b", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
    ],
  }));
  assertEquals(_code(await backend.invoke("pick", ["a"])), "ok");
  const world = await backend.world();
  assertEquals(world?.holding, "a");
  assertEquals(world?.objects.map((o) => o.id).sort(), ["a", "b"]);
  const detected = await backend.invoke("detect", []);
  assert(detected.ok);
  assertEquals((detected.value as { id: string }[]).map((o) => o.id), ["b"]);
});

Deno.test("a grasp failure in the SimBackend-driven server comes back as grasp_failed", async () => {
  await using backend = await _ros2OverSim(parseScene({
    objects: [{ id: "a", kind: "block", color: "red", x: 0.1, y: -0.5 }],
    faults: { graspFailureRate: 1 },
  }));
  const outcome = await backend.invoke("pick", ["a"]);
  assertEquals(_code(outcome), "grasp_failed");
  const ended = backend.graph.events.find((e) => e.kind === "goal_ended");
  assertEquals(ended?.status, GoalStatus.STATUS_ABORTED);
  assertEquals(await backend.invoke("holding", []), { ok: true, value: null });
});
