// @ts-check
/**
 * Conversions between skill arguments / results and ROS 2 messages, by the
 * conventions `../README.md` documents ("Message conventions").
 * @module
 */

/** The skill error codes a result's `error_code` may carry (the skill API contract). */
export const SKILL_ERROR_CODES = [
  "unknown_object",
  "invalid_target",
  "out_of_workspace",
  "gripper_full",
  "not_holding",
  "blocked",
  "grasp_failed",
  "out_of_reach",
  "invalid_argument",
  "cancelled",
  "backend_error",
];

/**
 * @typedef {Record<string, unknown>} RosMessage
 * @typedef {{ id: string, kind: string, color: string, x: number, y: number, z: number, on: string | null }} Obj
 * @typedef {{ ok: true, value: unknown, held?: Obj } | { ok: false, error: { code: string, message: string } }} Outcome
 */

/**
 * The values a skill offers to its goal mapping.
 * @param {string} skill
 * @param {readonly unknown[]} args
 * @returns {Record<string, unknown>}
 */
export function goalSources(skill, args) {
  const [first] = args;
  switch (skill) {
    case "detect":
      return { query: typeof first === "string" ? first : "" };
    case "pick":
      return { id: first };
    case "place": {
      if (typeof first === "string") {
        return { target_id: first, x: 0, y: 0, on_object: true };
      }
      const point = /** @type {{ x: number, y: number }} */ (first);
      return { target_id: "", x: point?.x, y: point?.y, on_object: false };
    }
    case "wait":
      return { seconds: first };
    case "say":
      return { text: first };
    default:
      return {};
  }
}

/**
 * Builds a goal (or request) message from `goal: { "a.b": source }`.
 * @param {Readonly<Record<string, string>>} mapping
 * @param {Readonly<Record<string, unknown>>} sources
 * @returns {RosMessage}
 */
export function buildGoal(mapping, sources) {
  /** @type {RosMessage} */
  const goal = {};
  for (const [path, source] of Object.entries(mapping)) {
    const parts = path.split(".");
    /** @type {RosMessage} */
    let at = goal;
    for (const part of parts.slice(0, -1)) {
      const next = at[part];
      if (typeof next === "object" && next !== null) {
        at = /** @type {RosMessage} */ (next);
      } else {
        /** @type {RosMessage} */
        const created = {};
        at[part] = created;
        at = created;
      }
    }
    at[/** @type {string} */ (parts[parts.length - 1])] = sources[source];
  }
  return goal;
}

/**
 * Renders a value for an error message, cut to a readable length.
 * @param {unknown} value
 * @returns {string}
 */
export function brief(value) {
  let text;
  try {
    text = JSON.stringify(toJson(value)) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/**
 * A copy of a ROS message that `JSON.stringify` can carry: typed arrays
 * become arrays, `bigint` a number (or a string beyond 2^53).
 * @param {unknown} value
 * @returns {unknown}
 */
export function toJson(value) {
  if (typeof value === "bigint") {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) &&
        value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (ArrayBuffer.isView(value)) {
    return Array.from(
      /** @type {ArrayLike<unknown>} */ (/** @type {unknown} */ (value)),
      toJson,
    );
  }
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object" && value !== null) {
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = toJson(item);
    return out;
  }
  if (typeof value === "number" && !Number.isFinite(value)) {
    return String(value);
  }
  return value;
}

class _BadMessage extends Error {}

/**
 * @param {RosMessage} message
 * @param {string} name
 * @param {"string" | "number" | "array"} type
 * @returns {unknown}
 */
function _field(message, name, type) {
  const value = message[name];
  const ok = type === "array"
    ? Array.isArray(value) || ArrayBuffer.isView(value)
    : type === "number"
    ? typeof value === "number" && Number.isFinite(value)
    : typeof value === "string";
  if (!ok) {
    throw new _BadMessage(
      `field "${name}" must be a ${type}, got ${brief(value)}`,
    );
  }
  return value;
}

/**
 * @param {unknown} item
 * @param {number} index
 * @returns {Obj}
 */
function _toObj(item, index) {
  if (typeof item !== "object" || item === null) {
    throw new _BadMessage(
      `objects[${index}] must be an object, got ${brief(item)}`,
    );
  }
  const m = /** @type {RosMessage} */ (item);
  try {
    const id = /** @type {string} */ (_field(m, "id", "string"));
    const kind = /** @type {string} */ (_field(m, "kind", "string"));
    const color = /** @type {string} */ (_field(m, "color", "string"));
    const x = /** @type {number} */ (_field(m, "x", "number"));
    const y = /** @type {number} */ (_field(m, "y", "number"));
    const z = /** @type {number} */ (_field(m, "z", "number"));
    const on = /** @type {string} */ (_field(m, "on", "string"));
    return { id, kind, color, x, y, z, on: on === "" ? null : on };
  } catch (error) {
    throw new _BadMessage(
      `objects[${index}]: ${/** @type {Error} */ (error).message}`,
    );
  }
}

/**
 * Decodes a result (or service response) message into the skill's result.
 * A non-empty `error_code` string field is the skill error (with
 * `error_message`); an unknown code is `backend_error`.
 * @param {string} skill
 * @param {string} what
 * @param {unknown} message
 * @returns {Outcome}
 */
export function decodeResult(skill, what, message) {
  if (typeof message !== "object" || message === null) {
    return _bad(`${what} returned ${brief(message)}, not a message`);
  }
  const m = /** @type {RosMessage} */ (message);
  const code = m.error_code;
  if (typeof code === "string" && code !== "") {
    const text = typeof m.error_message === "string" && m.error_message !== ""
      ? m.error_message
      : `${what} failed with ${code}`;
    if (SKILL_ERROR_CODES.includes(code)) {
      return { ok: false, error: { code, message: text } };
    }
    return _bad(
      `${what} failed with the unknown error code "${code}": ${text}`,
    );
  }
  try {
    switch (skill) {
      case "detect": {
        const objects =
          /** @type {unknown[]} */ (_field(m, "objects", "array"));
        return { ok: true, value: Array.from(objects, _toObj) };
      }
      case "holding": {
        const id = /** @type {string} */ (_field(m, "object_id", "string"));
        if (id === "") return { ok: true, value: null };
        const held = decodeHeldObject(m);
        return held === undefined
          ? { ok: true, value: id }
          : { ok: true, value: id, held };
      }
      case "workspace":
        return {
          ok: true,
          value: {
            xMin: _field(m, "x_min", "number"),
            xMax: _field(m, "x_max", "number"),
            yMin: _field(m, "y_min", "number"),
            yMax: _field(m, "y_max", "number"),
          },
        };
      default:
        return { ok: true, value: null };
    }
  } catch (error) {
    if (error instanceof _BadMessage) {
      return _bad(
        `Cannot use the result of ${skill}: ${what} returned a message whose ${error.message}`,
      );
    }
    throw error;
  }
}

/**
 * The held object as `holding`'s result may describe it (optional field
 * `object`, an object message like those of `detect`), or `undefined`.
 * @param {unknown} message
 * @returns {Obj | undefined}
 */
export function decodeHeldObject(message) {
  if (typeof message !== "object" || message === null) return undefined;
  const m = /** @type {RosMessage} */ (message);
  if (typeof m.object !== "object" || m.object === null) return undefined;
  try {
    const held = _toObj(m.object, 0);
    return held.id === m.object_id ? held : undefined;
  } catch {
    return undefined;
  }
}

/** @param {string} message @returns {Outcome} */
function _bad(message) {
  return { ok: false, error: { code: "backend_error", message } };
}
