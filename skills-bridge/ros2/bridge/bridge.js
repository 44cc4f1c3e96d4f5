// @ts-check
/**
 * The ROS 2 side of cap-edge's skills: one {@linkcode BridgeSession} per
 * connection from the core, holding a node, its action and service clients
 * and the e-stop subscription, and running each `invoke` as its action or
 * service (the logic the Deno backend had before rclnodejs moved out of it).
 *
 * rclnodejs's surface used here, as in rclnodejs 1.9 and 2.x
 * (`index.js`, `lib/node.js`, `lib/qos.js`, `lib/action/client.js`,
 * `lib/action/client_goal_handle.js`):
 * `init()`, `new Node(name, namespace)`, `node.spin()`,
 * `node.createClient(type, name)`, `node.destroyClient(client)`,
 * `node.createSubscription(type, topic, { qos }, callback)`,
 * `node.destroy()`, `new ActionClient(node, type, name)`,
 * `waitForServer(ms)`, `sendGoal(goal, feedbackCallback, goalUuid)`,
 * goal handle `isAccepted()`, `status`, `getResult()`, `cancelGoal()`
 * (resolves `{ return_code, goals_canceling }`), `client.waitForService(ms)`,
 * `client.sendRequest(request, callback)`, `new QoS(history, depth,
 * reliability, durability)` and its policy constants.
 * @module
 */
import { randomUUID } from "node:crypto";
import {
  brief,
  buildGoal,
  decodeResult,
  goalSources,
  toJson,
} from "./messages.js";

/**
 * @typedef {import("./messages.js").RosMessage} RosMessage
 * @typedef {import("./messages.js").Outcome} Outcome
 * @typedef {import("./protocol.js").BridgeConfig} BridgeConfig
 * @typedef {import("./protocol.js").SkillMapping} SkillMapping
 * @typedef {import("./protocol.js").Orphan} Orphan
 *
 * @typedef {{
 *   isAccepted(): boolean,
 *   readonly status: number,
 *   getResult(): Promise<RosMessage>,
 *   cancelGoal(): Promise<{ return_code: number, goals_canceling: unknown[] }>,
 * }} GoalHandleLike
 * @typedef {{
 *   waitForServer(timeout?: number): Promise<boolean>,
 *   sendGoal(goal: RosMessage, feedback?: (f: RosMessage) => void, goalUuid?: { uuid: Uint8Array }): Promise<GoalHandleLike>,
 *   destroy(): void,
 * }} ActionClientLike
 * @typedef {{
 *   waitForService(timeout?: number): Promise<boolean>,
 *   sendRequest(request: RosMessage, callback: (response: RosMessage) => void): void,
 * }} ServiceClientLike
 * @typedef {{
 *   createClient(type: string, name: string): ServiceClientLike,
 *   destroyClient(client: ServiceClientLike): void,
 *   createSubscription(type: string, topic: string, options: { qos: unknown }, callback: (m: RosMessage) => void): unknown,
 *   spin(): void,
 *   destroy(): void,
 * }} NodeLike
 * @typedef {{
 *   HistoryPolicy: { RMW_QOS_POLICY_HISTORY_KEEP_LAST: number },
 *   ReliabilityPolicy: { RMW_QOS_POLICY_RELIABILITY_RELIABLE: number, RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: number },
 *   DurabilityPolicy: { RMW_QOS_POLICY_DURABILITY_VOLATILE: number },
 *   new (history: number, depth: number, reliability: number, durability: number): unknown,
 * }} QoSClassLike
 * @typedef {{
 *   init(): Promise<void>,
 *   shutdown(): void,
 *   Node: new (name: string, namespace?: string) => NodeLike,
 *   ActionClient: new (node: NodeLike, type: string, name: string) => ActionClientLike,
 *   QoS: QoSClassLike,
 * }} RclnodejsLike
 *
 * @typedef {"cancelled" | "estop" | "disposed" | "timeout"} StopReason
 * @typedef {(message: Record<string, unknown>) => void} Send
 */

/** `action_msgs/msg/GoalStatus` constants. */
export const GoalStatus = {
  STATUS_UNKNOWN: 0,
  STATUS_ACCEPTED: 1,
  STATUS_EXECUTING: 2,
  STATUS_CANCELING: 3,
  STATUS_SUCCEEDED: 4,
  STATUS_CANCELED: 5,
  STATUS_ABORTED: 6,
};

/**
 * Imports rclnodejs (or the module at `modulePath`, which tests set to the
 * stand-in) and checks that it looks like rclnodejs.
 * @param {string | undefined} modulePath
 * @returns {Promise<RclnodejsLike>}
 */
export async function loadRclnodejs(modulePath) {
  if (modulePath === undefined) {
    const prefix = process.env.AMENT_PREFIX_PATH;
    if (prefix === undefined || prefix === "") {
      throw new Error(
        "Cannot start the ROS 2 bridge: ROS 2 is not sourced (AMENT_PREFIX_PATH is not set); run `source /opt/ros/<distro>/setup.bash` first",
      );
    }
  }
  const specifier = modulePath === undefined
    ? "rclnodejs"
    : new URL(modulePath, `file://${process.cwd()}/`).href;
  /** @type {Record<string, unknown>} */
  let module;
  try {
    module = await import(specifier);
  } catch (error) {
    throw new Error(
      `Cannot start the ROS 2 bridge: cannot import rclnodejs from "${specifier}": ${
        _message(error)
      }`,
      { cause: error },
    );
  }
  const rcl = /** @type {Partial<RclnodejsLike>} */ (module.default ?? module);
  if (
    typeof rcl.init !== "function" || typeof rcl.Node !== "function" ||
    typeof rcl.ActionClient !== "function" || typeof rcl.QoS !== "function"
  ) {
    throw new Error(
      `Cannot start the ROS 2 bridge: "${specifier}" does not look like rclnodejs (no init, Node, ActionClient or QoS)`,
    );
  }
  return /** @type {RclnodejsLike} */ (rcl);
}

/** rclnodejs, initialised once for the bridge process, and the sessions on it. */
export class Ros2Bridge {
  /** @type {Promise<RclnodejsLike> | undefined} */
  #ready;
  /** @type {(() => Promise<RclnodejsLike>)} */
  #load;

  /** @param {() => Promise<RclnodejsLike>} load imports rclnodejs (called on first use) */
  constructor(load) {
    this.#load = load;
  }

  /**
   * Opens a session for one core connection: imports and initialises
   * rclnodejs on first use, creates the node, clients and e-stop
   * subscription, cancels the `orphans` (goals the core saw accepted but
   * never saw end, from an earlier bridge), then resolves.
   * @param {BridgeConfig} config
   * @param {Orphan[]} orphans
   * @param {Send} send
   * @returns {Promise<{ session: BridgeSession, orphans: { goalId: string, cancelled: boolean, message: string }[] }>}
   */
  async open(config, orphans, send) {
    if (this.#ready === undefined) {
      this.#ready = (async () => {
        const rcl = await this.#load();
        try {
          await rcl.init();
        } catch (error) {
          throw new Error(
            `Cannot start the ROS 2 bridge: rclnodejs.init() failed (is ROS 2 sourced and its middleware installed?): ${
              _message(error)
            }`,
            { cause: error },
          );
        }
        return rcl;
      })();
      this.#ready.catch(() => (this.#ready = undefined));
    }
    const rcl = await this.#ready;
    const session = new BridgeSession(rcl, config, send);
    const results = [];
    for (const orphan of orphans) {
      results.push({
        goalId: orphan.goalId,
        ...await session.cancelOrphan(orphan),
      });
    }
    return { session, orphans: results };
  }
}

/** One connection's node, clients and goals in flight. */
export class BridgeSession {
  /** @type {RclnodejsLike} */ #rcl;
  /** @type {BridgeConfig} */ #config;
  /** @type {Send} */ #send;
  /** @type {NodeLike} */ #node;
  /** @type {Map<string, ActionClientLike>} */ #actions = new Map();
  /** @type {Map<string, ServiceClientLike>} */ #services = new Map();
  /** @type {Map<number, AbortController>} */ #inFlight = new Map();
  /** @type {Set<Promise<void>>} */ #running = new Set();
  #closed = false;

  /**
   * @param {RclnodejsLike} rcl
   * @param {BridgeConfig} config
   * @param {Send} send
   */
  constructor(rcl, config, send) {
    this.#rcl = rcl;
    this.#config = config;
    this.#send = send;
    this.#node = new rcl.Node(config.nodeName, config.namespace);
    try {
      for (const [skill, mapping] of Object.entries(config.skills)) {
        if (mapping === undefined) continue;
        try {
          if (mapping.type === "action") {
            this.#actions.set(
              skill,
              new rcl.ActionClient(this.#node, mapping.interface, mapping.name),
            );
          } else {
            this.#services.set(
              skill,
              this.#node.createClient(mapping.interface, mapping.name),
            );
          }
        } catch (error) {
          throw new Error(
            `Cannot create the ROS 2 ${mapping.type} client for ${skill}: "${mapping.name}" (${mapping.interface}) failed: ${
              _message(error)
            }`,
            { cause: error },
          );
        }
      }
      if (config.estopTopic !== null) {
        const Q = rcl.QoS;
        const qos = new Q(
          Q.HistoryPolicy.RMW_QOS_POLICY_HISTORY_KEEP_LAST,
          config.estopQos.depth,
          config.estopQos.reliability === "reliable"
            ? Q.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_RELIABLE
            : Q.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT,
          Q.DurabilityPolicy.RMW_QOS_POLICY_DURABILITY_VOLATILE,
        );
        this.#node.createSubscription(
          "std_msgs/msg/Bool",
          config.estopTopic,
          { qos },
          (message) => this.#onEstop(message),
        );
      }
      this.#node.spin();
    } catch (error) {
      this.#node.destroy();
      throw error;
    }
  }

  /**
   * Starts `skill`; its `feedback` and `result` messages go to the core.
   * @param {number} id
   * @param {string} skill
   * @param {unknown[]} args
   * @param {string} [goalId] the goal's UUID as 32 hex digits (the core names action goals)
   */
  invoke(id, skill, args, goalId) {
    const mapping = this.#config.skills[skill];
    if (this.#closed || this.#inFlight.has(id)) {
      this.#send({
        type: "result",
        id,
        outcome: _fail(
          "backend_error",
          `Cannot run ${skill}: the bridge session is closed or id ${id} is in use`,
        ),
      });
      return;
    }
    if (mapping === undefined) {
      this.#send({
        type: "result",
        id,
        outcome: _fail(
          "invalid_argument",
          `Cannot run "${skill}": the ROS 2 bridge has no mapping for it`,
        ),
      });
      return;
    }
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort("timeout"), mapping.timeoutMs);
    this.#inFlight.set(id, stop);
    const run = (async () => {
      /** @type {Outcome} */
      let outcome;
      try {
        outcome = mapping.type === "action"
          ? await this.#runAction(
            id,
            skill,
            mapping,
            args,
            stop,
            goalId ?? randomUUID().replaceAll("-", ""),
          )
          : await this.#runService(skill, mapping, args, stop);
      } catch (error) {
        outcome = _fail(
          "backend_error",
          `Cannot run ${skill} over ROS 2: ${_message(error)}`,
        );
      } finally {
        clearTimeout(timer);
        this.#inFlight.delete(id);
      }
      this.#send({
        type: "result",
        id,
        outcome: /** @type {Outcome} */ (toJson(outcome)),
      });
    })();
    this.#running.add(run);
    run.finally(() => this.#running.delete(run));
  }

  /**
   * Halts invocation `id` (its goal is cancelled, bounded by `cancelTimeoutMs`).
   * @param {number} id
   */
  cancel(id) {
    this.#inFlight.get(id)?.abort("cancelled");
  }

  /**
   * Sends a cancel request for a goal an earlier bridge started (the goal id
   * came from the core) through the action's cancel service, waiting at most
   * `serverTimeoutMs` for the service and `cancelTimeoutMs` for the answer.
   * @param {Orphan} orphan
   * @returns {Promise<{ cancelled: boolean, message: string }>}
   */
  async cancelOrphan(orphan) {
    const { serverTimeoutMs, cancelTimeoutMs } = this.#config;
    const service = `${orphan.action}/_action/cancel_goal`;
    const client = this.#node.createClient(
      "action_msgs/srv/CancelGoal",
      service,
    );
    try {
      const up = await _within(
        client.waitForService(serverTimeoutMs),
        serverTimeoutMs + 100,
      );
      if (!up.done || !up.value) {
        return {
          cancelled: false,
          message: `no server for "${service}" within ${serverTimeoutMs} ms`,
        };
      }
      const uuid = Array.from(Buffer.from(orphan.goalId, "hex"));
      const answered = await _within(
        new Promise((resolve) =>
          client.sendRequest({
            goal_info: { goal_id: { uuid }, stamp: { sec: 0, nanosec: 0 } },
          }, resolve)
        ),
        cancelTimeoutMs,
      );
      if (!answered.done) {
        return {
          cancelled: false,
          message: `"${service}" did not answer within ${cancelTimeoutMs} ms`,
        };
      }
      const response = /** @type {RosMessage} */ (answered.value);
      return {
        cancelled: response.return_code === 0,
        message: `"${service}" answered return_code ${
          String(response.return_code)
        }`,
      };
    } finally {
      this.#node.destroyClient(client);
    }
  }

  /**
   * Cancels every goal in flight (bounded waits), then destroys the node.
   * @returns {Promise<void>}
   */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of this.#inFlight.values()) stop.abort("disposed");
    await Promise.allSettled([...this.#running]);
    for (const client of this.#actions.values()) client.destroy();
    this.#node.destroy();
  }

  /** @param {RosMessage} message */
  #onEstop(message) {
    if (message.data !== true) return;
    this.#send({ type: "estop" });
    for (const stop of this.#inFlight.values()) stop.abort("estop");
  }

  /**
   * @param {number} id
   * @param {string} skill
   * @param {SkillMapping} mapping
   * @param {unknown[]} args
   * @param {AbortController} stop
   * @param {string} goalId
   * @returns {Promise<Outcome>}
   */
  async #runAction(id, skill, mapping, args, stop, goalId) {
    const client = /** @type {ActionClientLike} */ (this.#actions.get(skill));
    const what = `the ROS 2 action "${mapping.name}" (${mapping.interface})`;
    const { serverTimeoutMs, cancelTimeoutMs } = this.#config;
    const down = await this.#untilServer(
      skill,
      mapping,
      client.waitForServer(serverTimeoutMs),
      what,
      stop.signal,
    );
    if (down !== null) return down;
    const goal = buildGoal(mapping.goal, goalSources(skill, args));
    const sent = client.sendGoal(
      goal,
      (feedback) =>
        this.#send({ type: "feedback", id, feedback: toJson(feedback) }),
      { uuid: Uint8Array.from(Buffer.from(goalId, "hex")) },
    );
    const answered = await _untilStopped(sent, stop.signal);
    if (!answered.done) {
      // The goal may be accepted after the stop: wait for the answer, then cancel it.
      const late = await _within(sent, cancelTimeoutMs);
      if (late.done && late.value.isAccepted()) {
        await this.#cancelGoal(late.value, _quiet(late.value.getResult()));
      }
      return this.#stopped(skill, stop.signal, mapping);
    }
    const handle = answered.value;
    if (!handle.isAccepted()) {
      return _fail(
        "backend_error",
        `Cannot run ${skill}: ${what} rejected the goal ${brief(goal)}`,
      );
    }
    const result = _quiet(handle.getResult());
    const ended = await _untilStopped(result, stop.signal);
    if (!ended.done) {
      await this.#cancelGoal(handle, result);
      return this.#stopped(skill, stop.signal, mapping);
    }
    return _fromStatus(skill, what, handle.status, ended.value);
  }

  /**
   * @param {string} skill
   * @param {SkillMapping} mapping
   * @param {unknown[]} args
   * @param {AbortController} stop
   * @returns {Promise<Outcome>}
   */
  async #runService(skill, mapping, args, stop) {
    const client = /** @type {ServiceClientLike} */ (this.#services.get(skill));
    const what = `the ROS 2 service "${mapping.name}" (${mapping.interface})`;
    const down = await this.#untilServer(
      skill,
      mapping,
      client.waitForService(this.#config.serverTimeoutMs),
      what,
      stop.signal,
    );
    if (down !== null) return down;
    const request = buildGoal(mapping.goal, goalSources(skill, args));
    // A service call cannot be cancelled in ROS 2: on a stop its late response is dropped.
    const response = await _untilStopped(
      /** @type {Promise<RosMessage>} */ (new Promise((resolve) =>
        client.sendRequest(request, resolve)
      )),
      stop.signal,
    );
    if (!response.done) return this.#stopped(skill, stop.signal, mapping);
    return decodeResult(skill, what, response.value);
  }

  /**
   * Sends `cancelGoal()` and waits at most `cancelTimeoutMs` for the goal to end.
   * @param {GoalHandleLike} handle
   * @param {Promise<RosMessage>} result
   */
  async #cancelGoal(handle, result) {
    _quiet(handle.cancelGoal());
    await _within(result, this.#config.cancelTimeoutMs);
  }

  /**
   * @param {string} skill
   * @param {SkillMapping} mapping
   * @param {Promise<boolean>} ready
   * @param {string} what
   * @param {AbortSignal} signal
   * @returns {Promise<Outcome | null>}
   */
  async #untilServer(skill, mapping, ready, what, signal) {
    const up = await _untilStopped(ready, signal);
    if (!up.done) return this.#stopped(skill, signal, mapping);
    if (up.value) return null;
    return _fail(
      "backend_error",
      `Cannot run ${skill}: ${what} has no server (none became available within ${this.#config.serverTimeoutMs} ms)`,
    );
  }

  /**
   * @param {string} skill
   * @param {AbortSignal} signal
   * @param {SkillMapping} mapping
   * @returns {Outcome}
   */
  #stopped(skill, signal, mapping) {
    const reason = /** @type {StopReason} */ (signal.reason);
    if (reason === "timeout") {
      return _fail(
        "backend_error",
        `Cannot run ${skill}: the ROS 2 ${mapping.type} "${mapping.name}" did not finish within ${mapping.timeoutMs} ms`,
      );
    }
    const why = reason === "estop"
      ? "an emergency stop came from the ROS 2 e-stop topic"
      : reason === "disposed"
      ? "the connection to the ROS 2 bridge was closed"
      : "it was cancelled";
    return _fail("cancelled", `Cannot finish ${skill}: ${why}`);
  }
}

/**
 * @param {string} skill
 * @param {string} what
 * @param {number} status
 * @param {RosMessage} message
 * @returns {Outcome}
 */
function _fromStatus(skill, what, status, message) {
  switch (status) {
    case GoalStatus.STATUS_SUCCEEDED:
      return decodeResult(skill, what, message);
    case GoalStatus.STATUS_ABORTED: {
      const decoded = decodeResult(skill, what, message);
      if (!decoded.ok) return decoded;
      return _fail(
        "backend_error",
        `Cannot run ${skill}: ${what} aborted the goal without an error code`,
      );
    }
    case GoalStatus.STATUS_CANCELED:
      return _fail(
        "cancelled",
        `Cannot finish ${skill}: ${what} cancelled the goal`,
      );
    default:
      return _fail(
        "backend_error",
        `Cannot run ${skill}: ${what} ended the goal with status ${status}, not SUCCEEDED, ABORTED or CANCELED`,
      );
  }
}

/** @param {string} code @param {string} message @returns {Outcome} */
function _fail(code, message) {
  return { ok: false, error: { code, message } };
}

/** @param {unknown} error @returns {string} */
function _message(error) {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Marks a promise's rejection as handled (it may be abandoned) and returns it.
 * @template T
 * @param {Promise<T>} promise
 * @returns {Promise<T>}
 */
function _quiet(promise) {
  promise.catch(() => {});
  return promise;
}

/**
 * Settles with the promise, or `{ done: false }` as soon as `signal` aborts.
 * @template T
 * @param {Promise<T>} promise
 * @param {AbortSignal} signal
 * @returns {Promise<{ done: true, value: T } | { done: false }>}
 */
async function _untilStopped(promise, signal) {
  if (signal.aborted) return { done: false };
  let onAbort = () => {};
  /** @type {Promise<{ done: false }>} */
  const stopped = new Promise((resolve) => {
    onAbort = () => resolve({ done: false });
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([
      promise.then((value) => ({ done: /** @type {const} */ (true), value })),
      stopped,
    ]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Settles with the promise, or `{ done: false }` after `ms` (or when it rejects).
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @returns {Promise<{ done: true, value: T } | { done: false }>}
 */
async function _within(promise, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {Promise<{ done: false }>} */
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ done: false }), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ done: /** @type {const} */ (true), value }),
        () => ({ done: /** @type {const} */ (false) }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
