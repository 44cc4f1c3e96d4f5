/**
 * The bridge process through its real channel, spoken by hand: the
 * handshake, a core that breaks the protocol (the bridge ends that
 * connection and serves the next), and a core that goes away or falls silent
 * mid-goal (the bridge cancels the goal).
 * @module
 */
import { assert, assertEquals } from "../_assert.ts";
import { FakeRos2Graph, GoalStatus } from "./_fake_ros2_graph.ts";
import { _encodeNdjson, _readNdjson } from "./_ndjson.ts";
import { parseRos2Config, ROS2_DEFAULT_GOALS } from "./ros2_config.ts";
import { _BRIDGE_MAIN, _FAKE_RCLNODEJS, _TEST_CONFIG } from "./_test_setup.ts";

/** A hand-driven core connection to the bridge's socket. */
async function _connect(path: string) {
  const conn = await Deno.connect({ transport: "unix", path });
  const messages = _readNdjson(conn.readable);
  return {
    send: async (message: Record<string, unknown>) => {
      await conn.write(_encodeNdjson(message));
    },
    sendRaw: async (text: string) => {
      await conn.write(new TextEncoder().encode(text));
    },
    next: async () => (await messages.next()).value,
    /** Resolves true when the bridge ended the connection. */
    ended: async () => {
      try {
        return (await messages.next()).done === true;
      } catch {
        return true;
      }
    },
    close: () => {
      try {
        conn.close();
      } catch {
        // reading to the end closed it already
      }
    },
  };
}

function _configure(coreTimeoutMs = 60_000) {
  const config = parseRos2Config(_TEST_CONFIG);
  return {
    type: "configure",
    config: {
      nodeName: config.nodeName,
      namespace: config.namespace,
      serverTimeoutMs: config.serverTimeoutMs,
      cancelTimeoutMs: config.cancelTimeoutMs,
      estopTopic: config.estopTopic,
      estopQos: config.estopQos,
      coreTimeoutMs,
      skills: {
        pick: {
          type: "action",
          name: "/cap/pick",
          interface: "cap_msgs/action/Pick",
          goal: ROS2_DEFAULT_GOALS.pick,
          timeoutMs: 60_000,
        },
      },
    },
    orphans: [],
  };
}

/** Waits until the bridge's socket accepts connections (it starts asynchronously). */
async function _untilListening(path: string, child: Deno.ChildProcess) {
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the bridge ended before listening: ${seen}`);
    seen += value;
  }
  // Keep draining stderr so the bridge never blocks on it.
  const drained = (async () => {
    while (!(await reader.read()).done) {
      // discard
    }
  })();
  return { path, drained };
}

Deno.test("the bridge over its socket: handshake, a broken protocol ends only that connection, a lost core's goal is cancelled", async () => {
  await using graph = await FakeRos2Graph.start();
  let release = () => {};
  using _server = graph.addActionServer("/cap/pick", "cap_msgs/action/Pick", {
    async execute(goal) {
      release();
      await new Promise<void>((resolve) =>
        goal.cancelSignal.addEventListener("abort", () => resolve(), {
          once: true,
        })
      );
      goal.canceled();
      return {};
    },
  });
  const dir = await Deno.makeTempDir({ prefix: "cap-edge-ros2-chan-" });
  const path = `${dir}/bridge.sock`;
  const child = new Deno.Command("node", {
    args: [_BRIDGE_MAIN, "--socket", path, "--rclnodejs", _FAKE_RCLNODEJS],
    env: { CAP_FAKE_ROS2_GRAPH: graph.path },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const { drained } = await _untilListening(path, child);
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);

    // A core whose first message is not hello is refused.
    const rude = await _connect(path);
    assertEquals(await rude.next(), {
      type: "hello",
      protocol: "cap-edge-ros2/1",
    });
    await rude.send({ type: "ping", id: 1 });
    assert(await rude.ended(), "the bridge ends a connection without hello");
    rude.close();

    // A line that is not JSON ends the connection too.
    const garbled = await _connect(path);
    await garbled.next();
    await garbled.sendRaw("{not json\n");
    assert(await garbled.ended());
    garbled.close();

    // The bridge is still up: a proper core gets served.
    const core = await _connect(path);
    await core.next();
    await core.send({ type: "hello", protocol: "cap-edge-ros2/1" });
    await core.send({ type: "ping", id: 7 });
    assertEquals(await core.next(), { type: "pong", id: 7 });
    await core.send(_configure());
    assertEquals(await core.next(), { type: "ready", orphans: [] });
    const started = new Promise<void>((resolve) => (release = resolve));
    await core.send({
      type: "invoke",
      id: 1,
      skill: "pick",
      args: ["red_block"],
      goalId: "0123456789abcdef0123456789abcdef",
    });
    await started;
    // The core goes away mid-goal: the bridge cancels the goal.
    core.close();
    const ended = await graph.untilEvent((e) => e.kind === "goal_ended");
    assertEquals(ended.status, GoalStatus.STATUS_CANCELED);

    // A core that falls silent counts as gone too (it pings every heartbeatMs).
    const silent = await _connect(path);
    await silent.next();
    await silent.send({ type: "hello", protocol: "cap-edge-ros2/1" });
    await silent.send(_configure(300));
    assertEquals(await silent.next(), { type: "ready", orphans: [] });
    const startedAgain = new Promise<void>((resolve) => (release = resolve));
    await silent.send({
      type: "invoke",
      id: 1,
      skill: "pick",
      args: ["red_block"],
      goalId: "fedcba9876543210fedcba9876543210",
    });
    await startedAgain;
    const result = await silent.next();
    assertEquals(result?.type, "result");
    assertEquals((result?.outcome as { ok: boolean }).ok, false);
    assert(await silent.ended(), "the bridge ended the silent connection");
    silent.close();
    const ends = graph.events.filter((e) => e.kind === "goal_ended");
    assertEquals(ends.map((e) => e.status), [
      GoalStatus.STATUS_CANCELED,
      GoalStatus.STATUS_CANCELED,
    ]);

    child.kill("SIGTERM");
    assertEquals((await child.status).code, 0);
    await drained;
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
