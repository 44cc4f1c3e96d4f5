// @ts-check
/**
 * The bridge's half of the channel between the cap-edge core and the ROS 2
 * bridge (`cap-edge-ros2/1`): what the core may send, checked by hand on
 * arrival (the core checks the bridge's messages with zod, in
 * `../_bridge_protocol.ts`). A message that breaks these rules is the core's
 * fault: the bridge ends the connection.
 *
 * core → bridge: `hello`, `configure`, `invoke`, `cancel`, `ping`.
 * bridge → core: `hello`, `ready`, `unavailable`, `feedback`, `result`,
 * `estop`, `pong`. The core names each action goal (`invoke.goalId`), so it
 * knows the id of every goal a bridge may have left behind.
 * @module
 */

/** The protocol name both sides put in their first message. */
export const PROTOCOL = "cap-edge-ros2/1";

/** The skills a configuration may map onto ROS 2. */
export const SKILLS = /** @type {const} */ ([
  "detect",
  "pick",
  "place",
  "holding",
  "workspace",
  "wait",
  "say",
]);

/**
 * @typedef {{
 *   type: "action" | "service",
 *   name: string,
 *   interface: string,
 *   goal: Record<string, string>,
 *   timeoutMs: number,
 * }} SkillMapping
 *
 * @typedef {{
 *   nodeName: string,
 *   namespace: string,
 *   serverTimeoutMs: number,
 *   cancelTimeoutMs: number,
 *   estopTopic: string | null,
 *   estopQos: { reliability: "reliable" | "best_effort", depth: number },
 *   coreTimeoutMs: number,
 *   skills: Partial<Record<string, SkillMapping>>,
 * }} BridgeConfig
 *
 * @typedef {{ action: string, goalId: string }} Orphan
 *
 * @typedef {{ type: "hello", protocol: string }} HelloMessage
 * @typedef {{ type: "configure", config: BridgeConfig, orphans: Orphan[] }} ConfigureMessage
 * @typedef {{ type: "invoke", id: number, skill: string, args: unknown[], goalId?: string }} InvokeMessage
 * @typedef {{ type: "cancel", id: number }} CancelMessage
 * @typedef {{ type: "ping", id: number }} PingMessage
 * @typedef {HelloMessage | ConfigureMessage | InvokeMessage | CancelMessage | PingMessage} CoreMessage
 */

/** A core message that breaks the protocol. */
export class ProtocolError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ProtocolError";
  }
}

/**
 * Checks one message from the core; returns it typed or throws
 * {@linkcode ProtocolError} naming the bad field.
 *
 * @param {Record<string, unknown>} m
 * @returns {CoreMessage}
 */
export function checkCoreMessage(m) {
  switch (m.type) {
    case "hello":
      _keys(m, ["type", "protocol"], "hello");
      _string(m.protocol, "hello.protocol");
      return /** @type {HelloMessage} */ (m);
    case "configure":
      _keys(m, ["type", "config", "orphans"], "configure");
      _config(m.config);
      _array(m.orphans, "configure.orphans").forEach((o, i) => {
        const at = `configure.orphans[${i}]`;
        _keys(_object(o, at), ["action", "goalId"], at);
        _rosName(/** @type {Orphan} */ (o).action, `${at}.action`);
        _goalId(/** @type {Orphan} */ (o).goalId, `${at}.goalId`);
      });
      return /** @type {ConfigureMessage} */ (m);
    case "invoke":
      _keys(m, ["type", "id", "skill", "args", "goalId"], "invoke");
      _id(m.id, "invoke.id");
      if (m.goalId !== undefined) _goalId(m.goalId, "invoke.goalId");
      _string(m.skill, "invoke.skill");
      _array(m.args, "invoke.args");
      return /** @type {InvokeMessage} */ (m);
    case "cancel":
    case "ping":
      _keys(m, ["type", "id"], m.type);
      _id(m.id, `${m.type}.id`);
      return /** @type {CancelMessage | PingMessage} */ (m);
    default:
      throw new ProtocolError(
        `Cannot accept a message from the core: unknown type ${
          JSON.stringify(m.type)
        }`,
      );
  }
}

/** @param {unknown} value @returns {asserts value is BridgeConfig} */
function _config(value) {
  const c = _object(value, "configure.config");
  _keys(c, [
    "nodeName",
    "namespace",
    "serverTimeoutMs",
    "cancelTimeoutMs",
    "estopTopic",
    "estopQos",
    "coreTimeoutMs",
    "skills",
  ], "configure.config");
  _string(c.nodeName, "config.nodeName");
  _string(c.namespace, "config.namespace");
  _positive(c.serverTimeoutMs, "config.serverTimeoutMs");
  _positive(c.cancelTimeoutMs, "config.cancelTimeoutMs");
  _positive(c.coreTimeoutMs, "config.coreTimeoutMs");
  if (c.estopTopic !== null) _rosName(c.estopTopic, "config.estopTopic");
  const qos = _object(c.estopQos, "config.estopQos");
  _keys(qos, ["reliability", "depth"], "config.estopQos");
  if (qos.reliability !== "reliable" && qos.reliability !== "best_effort") {
    throw new ProtocolError(
      `Cannot accept the configuration: config.estopQos.reliability must be "reliable" or "best_effort", got ${
        JSON.stringify(qos.reliability)
      }`,
    );
  }
  _positive(qos.depth, "config.estopQos.depth");
  const skills = _object(c.skills, "config.skills");
  for (const [skill, mapping] of Object.entries(skills)) {
    const at = `config.skills.${skill}`;
    if (!(/** @type {readonly string[]} */ (SKILLS)).includes(skill)) {
      throw new ProtocolError(
        `Cannot accept the configuration: ${at} is not a skill`,
      );
    }
    const s = _object(mapping, at);
    _keys(s, ["type", "name", "interface", "goal", "timeoutMs"], at);
    if (s.type !== "action" && s.type !== "service") {
      throw new ProtocolError(
        `Cannot accept the configuration: ${at}.type must be "action" or "service"`,
      );
    }
    _rosName(s.name, `${at}.name`);
    _string(s.interface, `${at}.interface`);
    _positive(s.timeoutMs, `${at}.timeoutMs`);
    for (
      const [field, source] of Object.entries(_object(s.goal, `${at}.goal`))
    ) {
      _string(source, `${at}.goal.${field}`);
    }
  }
}

/** @param {Record<string, unknown>} m @param {string[]} allowed @param {string} at */
function _keys(m, allowed, at) {
  for (const key of Object.keys(m)) {
    if (!allowed.includes(key)) {
      throw new ProtocolError(
        `Cannot accept a message from the core: ${at} has the unknown field "${key}"`,
      );
    }
  }
}

/** @param {unknown} value @param {string} at @returns {Record<string, unknown>} */
function _object(value, at) {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError(
      `Cannot accept a message from the core: ${at} must be an object`,
    );
  }
  return /** @type {Record<string, unknown>} */ (value);
}

/** @param {unknown} value @param {string} at @returns {unknown[]} */
function _array(value, at) {
  if (!Array.isArray(value)) {
    throw new ProtocolError(
      `Cannot accept a message from the core: ${at} must be an array`,
    );
  }
  return value;
}

/** @param {unknown} value @param {string} at */
function _string(value, at) {
  if (typeof value !== "string") {
    throw new ProtocolError(
      `Cannot accept a message from the core: ${at} must be a string`,
    );
  }
}

/** @param {unknown} value @param {string} at */
function _id(value, at) {
  if (!Number.isSafeInteger(value) || /** @type {number} */ (value) < 0) {
    throw new ProtocolError(
      `Cannot accept a message from the core: ${at} must be a whole number ≥ 0`,
    );
  }
}

/** @param {unknown} value @param {string} at */
function _positive(value, at) {
  if (!Number.isSafeInteger(value) || /** @type {number} */ (value) <= 0) {
    throw new ProtocolError(
      `Cannot accept a message from the core: ${at} must be a whole number > 0`,
    );
  }
}

/** @param {unknown} value @param {string} at */
function _rosName(value, at) {
  if (
    typeof value !== "string" ||
    !/^~?\/?[A-Za-z_][A-Za-z0-9_]*(\/[A-Za-z_][A-Za-z0-9_]*)*$/.test(value)
  ) {
    throw new ProtocolError(
      `Cannot accept a message from the core: ${at} must be a ROS 2 name`,
    );
  }
}

/** @param {unknown} value @param {string} at */
function _goalId(value, at) {
  if (typeof value !== "string" || !/^[0-9a-f]{32}$/.test(value)) {
    throw new ProtocolError(
      `Cannot accept a message from the core: ${at} must be 32 hex digits`,
    );
  }
}
