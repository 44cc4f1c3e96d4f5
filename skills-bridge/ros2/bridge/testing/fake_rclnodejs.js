// @ts-check
/**
 * A stand-in for rclnodejs, for tests only: the bridge imports it instead of
 * the real module when started with `--rclnodejs <this file>`. It has the
 * client surface the bridge uses (see `../bridge.js`) and talks to a fake
 * ROS 2 graph — action and service servers, topics — that the test runs in
 * its own process (`../../_fake_ros2_graph.ts`) on the Unix socket named by
 * `CAP_FAKE_ROS2_GRAPH`. The graph outlives the bridge, as a robot's action
 * servers outlive any one client: a goal keeps running when the bridge dies.
 *
 * Nothing here was checked against a real ROS 2. It follows rclnodejs's
 * sources (RobotWebTools/rclnodejs 2.2.0: `lib/action/client.js`,
 * `lib/action/client_goal_handle.js`, `lib/node.js`, `lib/qos.js`) and the
 * ROS 2 action protocol:
 * - `init()` twice without `shutdown()` rejects; a node before `init()` throws.
 * - Incoming messages reach a node only while it spins, in order.
 * - `sendGoal(goal, feedbackCallback, goalUuid)` resolves with a goal handle
 *   once the server answered, accepted or not; the handle's `status` starts
 *   at ACCEPTED (UNKNOWN when rejected), follows the status topic and never
 *   leaves a terminal status; `getResult()` resolves with the result message
 *   once the goal is terminal (setting `status` from the result response);
 *   `cancelGoal()` resolves with the CancelGoal response.
 * - `waitForServer(ms)` / `waitForService(ms)`: true when a server of that
 *   name and type exists or appears in time, else false.
 * - A best-effort e-stop publisher does not reach a reliable subscription.
 * @module
 */
import { createConnection } from "node:net";
import process from "node:process";

/** @typedef {Record<string, unknown>} RosMessage */

/** @type {import("node:net").Socket | undefined} */
let _socket;
let _initialized = false;
let _nextRef = 0;
/** @type {Map<number, { node: Node, resolve: (value: any) => void }>} */
const _replies = new Map();
/** @type {Map<string, { node: Node, onFeedback?: (f: RosMessage) => void, onStatus: (s: number) => void }>} */
const _goals = new Map();
/** @type {Map<number, { node: Node, callback: (m: RosMessage) => void }>} */
const _subscriptions = new Map();
/** @type {Set<Node>} */
const _nodes = new Set();

/** @param {Record<string, unknown>} message */
function _send(message) {
  if (_socket === undefined || _socket.destroyed) return;
  _socket.write(`${JSON.stringify(message)}\n`);
}

/**
 * Sends `op` and resolves (on `node`, once it spins) with the graph's reply.
 * @param {Node} node
 * @param {Record<string, unknown>} op
 * @returns {Promise<any>}
 */
function _ask(node, op) {
  const ref = ++_nextRef;
  return new Promise((resolve) => {
    _replies.set(ref, { node, resolve });
    _send({ ...op, ref });
  });
}

/** @param {Record<string, any>} m */
function _onGraphMessage(m) {
  switch (m.op) {
    case "reply": {
      const waiting = _replies.get(m.ref);
      _replies.delete(m.ref);
      waiting?.node._deliver(() => waiting.resolve(m.value));
      return;
    }
    case "feedback": {
      const goal = _goals.get(m.goalId);
      if (goal?.onFeedback) {
        const callback = goal.onFeedback;
        goal.node._deliver(() => callback(m.feedback));
      }
      return;
    }
    case "status": {
      const goal = _goals.get(m.goalId);
      goal?.node._deliver(() => goal.onStatus(m.status));
      return;
    }
    case "message": {
      const sub = _subscriptions.get(m.subId);
      sub?.node._deliver(() => sub.callback(m.message));
      return;
    }
  }
}

/** `rclnodejs.init()`: connects to the fake graph. */
export async function init() {
  if (_initialized) {
    throw new Error("The context has already been initialized.");
  }
  const path = process.env.CAP_FAKE_ROS2_GRAPH;
  if (path === undefined) {
    throw new Error(
      "failed to initialize rcl: the stand-in needs CAP_FAKE_ROS2_GRAPH (no fake graph)",
    );
  }
  const socket = createConnection(path);
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  let buffered = "";
  socket.on("data", (chunk) => {
    buffered += chunk.toString("utf8");
    let end;
    while ((end = buffered.indexOf("\n")) !== -1) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (line !== "") _onGraphMessage(JSON.parse(line));
    }
  });
  _socket = socket;
  _initialized = true;
}

/** `rclnodejs.shutdown()`: destroys every node. */
export function shutdown() {
  for (const node of [..._nodes]) node.destroy();
  _socket?.destroy();
  _socket = undefined;
  _initialized = false;
}

/** rclnodejs's `QoS` (its constructor and the policy constants the bridge uses). */
export class QoS {
  static HistoryPolicy = { RMW_QOS_POLICY_HISTORY_KEEP_LAST: 1 };
  static ReliabilityPolicy = {
    RMW_QOS_POLICY_RELIABILITY_RELIABLE: 1,
    RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: 2,
  };
  static DurabilityPolicy = { RMW_QOS_POLICY_DURABILITY_VOLATILE: 2 };
  /**
   * @param {number} history
   * @param {number} depth
   * @param {number} reliability
   * @param {number} durability
   */
  constructor(history, depth, reliability, durability) {
    this.history = history;
    this.depth = depth;
    this.reliability = reliability;
    this.durability = durability;
  }
}

/** `rclnodejs.Node`. */
export class Node {
  #spinning = false;
  #destroyed = false;
  /** @type {(() => void)[]} */
  #queue = [];
  /** @type {Set<number>} */
  #subs = new Set();
  /** @type {Set<ActionClient>} */
  _actionClients = new Set();

  /** @param {string} name @param {string} [namespace] */
  constructor(name, namespace = "") {
    if (!_initialized) {
      throw new Error(
        `Cannot create the node "${name}": rclnodejs.init() was not called`,
      );
    }
    this.name = name;
    this.namespace = namespace;
    _nodes.add(this);
  }

  /** Starts delivering incoming messages (throws when already spinning). */
  spin() {
    if (this.#destroyed) throw new Error("Cannot spin a destroyed node");
    if (this.#spinning) throw new Error("The node is already spinning");
    this.#spinning = true;
    for (const task of this.#queue.splice(0)) queueMicrotask(task);
  }

  /** @param {() => void} task */
  _deliver(task) {
    if (this.#destroyed) return;
    const guarded = () => {
      if (!this.#destroyed) task();
    };
    if (this.#spinning) queueMicrotask(guarded);
    else this.#queue.push(guarded);
  }

  /** @param {string} type @param {string} name @returns {ServiceClient} */
  createClient(type, name) {
    this.#alive();
    return new ServiceClient(this, type, name);
  }

  /** @param {ServiceClient} _client */
  destroyClient(_client) {}

  /**
   * @param {string} type
   * @param {string} topic
   * @param {{ qos?: QoS } | ((m: RosMessage) => void)} options
   * @param {(m: RosMessage) => void} [callback]
   */
  createSubscription(type, topic, options, callback) {
    this.#alive();
    if (typeof options === "function") {
      callback = options;
      options = {};
    }
    const qos = options.qos;
    const subId = ++_nextRef;
    _subscriptions.set(subId, {
      node: this,
      callback: /** @type {(m: RosMessage) => void} */ (callback),
    });
    this.#subs.add(subId);
    _send({
      op: "subscribe",
      subId,
      topic,
      type,
      reliability: qos?.reliability === 2 ? "best_effort" : "reliable",
      depth: qos?.depth ?? 10,
    });
    return { subId };
  }

  /** Destroys the node and everything it created. */
  destroy() {
    if (this.#destroyed) return;
    for (const client of [...this._actionClients]) client.destroy();
    for (const subId of this.#subs) {
      _subscriptions.delete(subId);
      _send({ op: "unsubscribe", subId });
    }
    this.#destroyed = true;
    this.#queue.length = 0;
    _nodes.delete(this);
  }

  #alive() {
    if (this.#destroyed) throw new Error("Cannot use a destroyed node");
  }
}

/** rclnodejs's service `Client`. */
class ServiceClient {
  /** @param {Node} node @param {string} type @param {string} name */
  constructor(node, type, name) {
    this.node = node;
    this.type = type;
    this.name = name;
  }

  /** @param {number} [timeout] @returns {Promise<boolean>} */
  waitForService(timeout) {
    return _ask(this.node, {
      op: "wait",
      kind: "service",
      name: this.name,
      type: this.type,
      timeout: timeout ?? -1,
    });
  }

  /** @param {RosMessage} request @param {(response: RosMessage) => void} callback */
  sendRequest(request, callback) {
    void _ask(this.node, {
      op: "request",
      name: this.name,
      type: this.type,
      request: _plain(request),
    })
      .then(callback);
  }
}

/** `rclnodejs.ActionClient`. */
export class ActionClient {
  #destroyed = false;
  /** @type {Set<string>} */
  #goalIds = new Set();

  /** @param {Node} node @param {string} type @param {string} name */
  constructor(node, type, name) {
    if (!(node instanceof Node)) {
      throw new TypeError(
        "Cannot create an action client: not a node of this rclnodejs",
      );
    }
    this.node = node;
    this.type = type;
    this.name = name;
    node._actionClients.add(this);
  }

  /** @param {number} [timeout] @returns {Promise<boolean>} */
  waitForServer(timeout) {
    return _ask(this.node, {
      op: "wait",
      kind: "action",
      name: this.name,
      type: this.type,
      timeout: timeout ?? -1,
    });
  }

  /**
   * @param {RosMessage} goal
   * @param {(feedback: RosMessage) => void} [feedbackCallback]
   * @param {{ uuid: ArrayLike<number> }} [goalUuid]
   * @returns {Promise<ClientGoalHandle>}
   */
  async sendGoal(goal, feedbackCallback, goalUuid) {
    const bytes = goalUuid === undefined
      ? crypto.getRandomValues(new Uint8Array(16))
      : Uint8Array.from(goalUuid.uuid);
    const goalId = Buffer.from(bytes).toString("hex");
    const handle = new ClientGoalHandle(this, goalId, { uuid: bytes });
    /** @type {{ node: Node, onStatus: (s: number) => void, onFeedback?: (f: RosMessage) => void }} */
    const entry = {
      node: this.node,
      onStatus: (status) => handle._setStatus(status),
    };
    if (feedbackCallback !== undefined) entry.onFeedback = feedbackCallback;
    _goals.set(goalId, entry);
    this.#goalIds.add(goalId);
    const accepted = await _ask(this.node, {
      op: "send_goal",
      name: this.name,
      type: this.type,
      goalId,
      goal: _plain(goal),
    });
    handle._accept(accepted === true);
    if (!accepted) _goals.delete(goalId);
    return handle;
  }

  /** Destroys the client. */
  destroy() {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const id of this.#goalIds) _goals.delete(id);
    this.node._actionClients.delete(this);
  }

  /** @param {string} goalId @param {ClientGoalHandle} handle @returns {Promise<RosMessage>} */
  async _getResult(goalId, handle) {
    const reply = await _ask(this.node, {
      op: "get_result",
      name: this.name,
      goalId,
    });
    handle._setStatus(reply.status);
    return reply.result;
  }

  /** @param {string} goalId @returns {Promise<{ return_code: number, goals_canceling: unknown[] }>} */
  _cancelGoal(goalId) {
    return _ask(this.node, { op: "cancel_goal", name: this.name, goalId });
  }
}

/** rclnodejs's `ClientGoalHandle`. */
class ClientGoalHandle {
  #accepted = false;
  #status = 0;

  /** @param {ActionClient} client @param {string} id @param {{ uuid: Uint8Array }} goalId */
  constructor(client, id, goalId) {
    this._client = client;
    this._id = id;
    this._goalId = goalId;
  }

  /** The goal's `unique_identifier_msgs/msg/UUID`. */
  get goalId() {
    return this._goalId;
  }

  /** @deprecated as in rclnodejs: use isAccepted() */
  get accepted() {
    return this.isAccepted();
  }

  /** Whether the server accepted the goal. */
  isAccepted() {
    return this.#accepted;
  }

  /** The latest `GoalStatus` known to the client. */
  get status() {
    return this.#status;
  }

  /** @param {boolean} accepted */
  _accept(accepted) {
    this.#accepted = accepted;
    this.#status = accepted ? Math.max(this.#status, 1) : 0;
  }

  /** Only moves forward, never out of a terminal status (as rclnodejs). @param {number} status */
  _setStatus(status) {
    if (this.#status < 4 && status > this.#status) this.#status = status;
  }

  /** @returns {Promise<RosMessage>} */
  getResult() {
    return this._client._getResult(this._id, this);
  }

  /** @returns {Promise<{ return_code: number, goals_canceling: unknown[] }>} */
  cancelGoal() {
    return this._client._cancelGoal(this._id);
  }
}

/** @param {unknown} value @returns {unknown} */
function _plain(value) {
  return JSON.parse(
    JSON.stringify(
      value,
      (
        _key,
        v,
      ) => (ArrayBuffer.isView(v) ? Array.from(/** @type {any} */ (v)) : v),
    ),
  );
}

export default { init, shutdown, Node, ActionClient, QoS };
