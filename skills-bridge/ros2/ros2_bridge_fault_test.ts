/**
 * Fail-safe behaviour of the ros2 backend when its bridge process dies, stops
 * answering or restarts: real bridge processes (Node.js) with the rclnodejs
 * stand-in, a fake ROS 2 graph that outlives them.
 * @module
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import type { SkillOutcome } from "../skill_backend.ts";
import {
  FakeRos2Graph,
  type FakeServerGoalHandle,
  GoalStatus,
} from "./_fake_ros2_graph.ts";
import { Ros2Backend, type Ros2Fault } from "./ros2_backend.ts";
import { Ros2UnavailableError } from "./ros2_unavailable_error.ts";
import {
  _BRIDGE_MAIN,
  _createOn,
  _FAKE_RCLNODEJS,
  _TEST_CONFIG,
} from "./_test_setup.ts";

const PICK = ["/cap/pick", "cap_msgs/action/Pick"] as const;

function _code(outcome: SkillOutcome): string {
  return outcome.ok ? "ok" : outcome.error.code;
}

function _message(outcome: SkillOutcome): string {
  return outcome.ok ? "" : outcome.error.message;
}

function assertMatch(text: string, pattern: RegExp): void {
  assert(pattern.test(text), `${JSON.stringify(text)} should match ${pattern}`);
}

/** A pick server whose goals run until cancelled; `next()` resolves with the next goal to start. */
function _holdingGoals(graph: FakeRos2Graph) {
  const waiting: ((goal: FakeServerGoalHandle) => void)[] = [];
  const server = graph.addActionServer(...PICK, {
    async execute(goal) {
      waiting.shift()?.(goal);
      await new Promise<void>((resolve) => {
        if (goal.isCancelRequested) return resolve();
        goal.cancelSignal.addEventListener("abort", () => resolve(), {
          once: true,
        });
      });
      goal.canceled();
      return {};
    },
  });
  const next = () =>
    new Promise<FakeServerGoalHandle>((resolve) => waiting.push(resolve));
  return { server, next };
}

/** Resolves when the server accepted a cancel request for `goal`. */
function _cancelRequested(goal: FakeServerGoalHandle): Promise<void> {
  return new Promise((resolve) => {
    if (goal.isCancelRequested) return resolve();
    goal.cancelSignal.addEventListener("abort", () => resolve(), {
      once: true,
    });
  });
}

/** A bridge process on a Unix socket, as the systemd unit runs it. */
function _socketBridge(graph: FakeRos2Graph, socket: string) {
  const child = new Deno.Command("node", {
    args: [_BRIDGE_MAIN, "--socket", socket, "--rclnodejs", _FAKE_RCLNODEJS],
    env: { CAP_FAKE_ROS2_GRAPH: graph.path },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  return {
    child,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
    },
  };
}

Deno.test("a bridge killed (SIGKILL) mid-goal: the skill fails, onFault runs, skills are refused until a new bridge cancelled the goal", async () => {
  await using graph = await FakeRos2Graph.start();
  const { server, next } = _holdingGoals(graph);
  using _server = server;
  await using backend = await _createOn(graph);
  const faults: Ros2Fault[] = [];
  using _onFault = backend.onFault((fault) => faults.push(fault));
  const started = next();
  const running = backend.invoke("pick", ["red_block"]);
  const goal = await started;
  const firstPid = backend.bridgePid;
  assert(firstPid !== null);
  Deno.kill(firstPid, "SIGKILL");

  const outcome = await running;
  assertEquals(_code(outcome), "backend_error");
  assertMatch(
    _message(outcome),
    /Cannot finish pick: the ROS 2 bridge was killed \(SIGKILL\)/,
  );
  assertEquals(faults.length, 1);
  assertEquals(faults[0]?.inFlight, ["pick"]);
  assertMatch(faults[0]?.reason ?? "", /was killed/);
  assert(!backend.connected);
  const refused = await backend.invoke("pick", ["red_block"]);
  assertEquals(_code(refused), "backend_error");
  assertMatch(
    _message(refused),
    /the ROS 2 bridge is not connected .*"\/cap\/pick"/,
  );
  assertEquals(
    goal.status,
    GoalStatus.STATUS_EXECUTING,
    "the server still runs the goal",
  );

  // The core starts a new bridge, which first cancels the goal the old one left.
  await backend.whenConnected();
  await _cancelRequested(goal);
  assert(backend.bridgePid !== firstPid);
  await graph.untilEvent((e) => e.kind === "goal_ended");
  assertEquals(goal.status, GoalStatus.STATUS_CANCELED);
  // And skills run again.
  const again = next();
  const halt = new AbortController();
  const second = backend.invoke("pick", ["red_block"], {
    signal: halt.signal,
  });
  await again;
  halt.abort();
  assertEquals(_code(await second), "cancelled");
});

Deno.test("a goal in flight when the socket bridge restarts is cancelled by the next bridge", async () => {
  await using graph = await FakeRos2Graph.start();
  const { server, next } = _holdingGoals(graph);
  using _server = server;
  const dir = await Deno.makeTempDir({ prefix: "cap-edge-ros2-sock-" });
  const socket = `${dir}/bridge.sock`;
  try {
    const first = _socketBridge(graph, socket);
    await using backend = await Ros2Backend.create({
      ..._TEST_CONFIG,
      bridge: { socket },
    });
    const faults: Ros2Fault[] = [];
    using _onFault = backend.onFault((fault) => faults.push(fault));
    const started = next();
    const running = backend.invoke("pick", ["red_block"]);
    const goal = await started;
    first.child.kill("SIGKILL");
    await first[Symbol.asyncDispose]();
    const outcome = await running;
    assertEquals(_code(outcome), "backend_error");
    assertMatch(_message(outcome), /the ROS 2 bridge closed the channel/);
    assertEquals(faults.map((f) => f.inFlight), [["pick"]]);
    assertEquals(goal.status, GoalStatus.STATUS_EXECUTING);

    // systemd restarts the bridge on the same socket; the core reconnects.
    await using _second = _socketBridge(graph, socket);
    await backend.whenConnected();
    await _cancelRequested(goal);
    await graph.untilEvent((e) => e.kind === "goal_ended");
    assertEquals(goal.status, GoalStatus.STATUS_CANCELED);
    assert(
      graph.events.some((e) => e.kind === "cancel_requested"),
      "through the action's cancel service",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bridge that stops answering (SIGSTOP) counts as gone after heartbeatTimeoutMs and is replaced", async () => {
  await using graph = await FakeRos2Graph.start();
  const { server, next } = _holdingGoals(graph);
  using _server = server;
  await using backend = await _createOn(graph, {
    heartbeatMs: 50,
    heartbeatTimeoutMs: 400,
  });
  const faulted = Promise.withResolvers<Ros2Fault>();
  using _onFault = backend.onFault((fault) => faulted.resolve(fault));
  const started = next();
  const running = backend.invoke("pick", ["red_block"]);
  const goal = await started;
  const pid = backend.bridgePid!;
  Deno.kill(pid, "SIGSTOP");
  const outcome = await running;
  assertEquals(_code(outcome), "backend_error");
  assertMatch(_message(outcome), /stopped answering \(nothing for 400 ms\)/);
  assertMatch((await faulted.promise).reason, /stopped answering/);
  await backend.whenConnected();
  await _cancelRequested(goal);
  assert(backend.bridgePid !== pid);
});

Deno.test("a spawned bridge cancels its goal and exits when the core closes its stdin", async () => {
  await using graph = await FakeRos2Graph.start();
  const { server, next } = _holdingGoals(graph);
  using _server = server;
  const backend = await _createOn(graph);
  const started = next();
  const running = backend.invoke("pick", ["red_block"]);
  const goal = await started;
  await backend[Symbol.asyncDispose]();
  assertEquals(_code(await running), "cancelled");
  await _cancelRequested(goal);
  assertEquals(backend.bridgePid, null, "the bridge exited");
});

/** A stand-in bridge that greets and gets ready, then answers every invoke with a result that breaks the protocol. */
const _RUDE_BRIDGE = `
const send = (m) => process.stdout.write(JSON.stringify(m) + "\\n");
send({ type: "hello", protocol: "cap-edge-ros2/1" });
let buffered = "";
process.stdin.on("data", (chunk) => {
  buffered += chunk;
  let end;
  while ((end = buffered.indexOf("\\n")) !== -1) {
    const m = JSON.parse(buffered.slice(0, end));
    buffered = buffered.slice(end + 1);
    if (m.type === "configure") send({ type: "ready", orphans: [] });
    if (m.type === "ping") send({ type: "pong", id: m.id });
    if (m.type === "invoke") {
      send({ type: "result", id: m.id, outcome: { ok: "perhaps" } });
    }
  }
});
process.stdin.on("end", () => process.exit(0));
`;

Deno.test("a bridge that breaks the protocol is the bridge's fault: it is killed, the skill fails, the core carries on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cap-edge-ros2-rude-" });
  try {
    const script = `${dir}/rude_bridge.mjs`;
    await Deno.writeTextFile(script, _RUDE_BRIDGE);
    await using backend = await Ros2Backend.create({
      ..._TEST_CONFIG,
      bridge: { spawn: { node: "node", script } },
    });
    const faulted = Promise.withResolvers<Ros2Fault>();
    using _onFault = backend.onFault((fault) => faulted.resolve(fault));
    const pid = backend.bridgePid;
    const outcome = await backend.invoke("pick", ["red_block"]);
    assertEquals(_code(outcome), "backend_error");
    assertMatch(
      _message(outcome),
      /the ROS 2 bridge broke the protocol \(outcome/,
    );
    const fault = await faulted.promise;
    assertEquals(fault.inFlight, ["pick"]);
    // Local skills need no bridge; ROS 2 ones wait for the next one.
    assertEquals(await backend.invoke("wait", [0.001]), {
      ok: true,
      value: null,
    });
    await backend.whenConnected();
    assert(backend.bridgePid !== pid, "a new bridge process");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a socket bridge without a sourced ROS 2 tells the core, which fails with that reason", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cap-edge-ros2-unsourced-" });
  const socket = `${dir}/bridge.sock`;
  const child = new Deno.Command("node", {
    args: [_BRIDGE_MAIN, "--socket", socket],
    env: { AMENT_PREFIX_PATH: "" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const error = await assertRejects(
      () => Ros2Backend.create({ ..._TEST_CONFIG, bridge: { socket } }),
      Ros2UnavailableError,
    );
    assertMatch(error.message, /ROS 2 is not sourced \(AMENT_PREFIX_PATH/);
  } finally {
    child.kill("SIGTERM");
    assertEquals(
      (await child.status).code,
      0,
      "the bridge stays up for the next core, and stops on SIGTERM",
    );
    await Deno.remove(dir, { recursive: true });
  }
});
