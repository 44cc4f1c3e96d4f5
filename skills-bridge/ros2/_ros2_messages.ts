/**
 * Conversions between skill arguments / results and ROS 2 messages, by the
 * conventions the README of this folder documents.
 * @module
 */
import type { Obj, Workspace } from "../skill_api.ts";
import type { SkillErrorCode } from "../skill_error.ts";
import { isSkillErrorCode } from "../skill_error.ts";
import type { RosMessage } from "./_rclnodejs_types.ts";

/** A skill result or error decoded from a ROS 2 result or response message. */
export type _Decoded =
  | { ok: true; value: unknown }
  | { ok: false; error: { code: SkillErrorCode; message: string } };

/** The values a skill offers to its goal mapping (see `ROS2_GOAL_SOURCES`). */
export function _goalSources(
  skill: string,
  args: readonly unknown[],
): Record<string, unknown> {
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
      const point = first as { x: number; y: number };
      return { target_id: "", x: point.x, y: point.y, on_object: false };
    }
    case "wait":
      return { seconds: first };
    case "say":
      return { text: first };
    default:
      return {};
  }
}

/** Builds a goal (or request) message from `goal: { "a.b": source }`. */
export function _buildGoal(
  mapping: Readonly<Record<string, string>>,
  sources: Readonly<Record<string, unknown>>,
): RosMessage {
  const goal: RosMessage = {};
  for (const [path, source] of Object.entries(mapping)) {
    const parts = path.split(".");
    let at: RosMessage = goal;
    for (const part of parts.slice(0, -1)) {
      const next = at[part];
      if (typeof next === "object" && next !== null) at = next as RosMessage;
      else {
        const created: RosMessage = {};
        at[part] = created;
        at = created;
      }
    }
    at[parts[parts.length - 1] as string] = sources[source];
  }
  return goal;
}

/** Renders a value for an error message, cut to a readable length. */
export function _brief(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

class _BadMessage extends Error {}

function field(
  message: RosMessage,
  name: string,
  type: "string" | "number" | "array",
): unknown {
  const value = message[name];
  const ok = type === "array"
    ? Array.isArray(value)
    : type === "number"
    ? typeof value === "number" && Number.isFinite(value)
    : typeof value === "string";
  if (!ok) {
    throw new _BadMessage(
      `field "${name}" must be a ${type}, got ${_brief(value)}`,
    );
  }
  return value;
}

function toObj(item: unknown, index: number): Obj {
  if (typeof item !== "object" || item === null) {
    throw new _BadMessage(
      `objects[${index}] must be an object, got ${_brief(item)}`,
    );
  }
  const m = item as RosMessage;
  try {
    const id = field(m, "id", "string") as string;
    const kind = field(m, "kind", "string") as string;
    const color = field(m, "color", "string") as string;
    const x = field(m, "x", "number") as number;
    const y = field(m, "y", "number") as number;
    const z = field(m, "z", "number") as number;
    const on = field(m, "on", "string") as string;
    return { id, kind, color, x, y, z, on: on === "" ? null : on };
  } catch (error) {
    throw new _BadMessage(`objects[${index}]: ${(error as Error).message}`);
  }
}

/**
 * Decodes a result (or service response) message into the skill's result.
 * A non-empty `error_code` string field is the skill error (with
 * `error_message`); an unknown code is `backend_error`.
 */
export function _decodeResult(
  skill: string,
  what: string,
  message: unknown,
): _Decoded {
  if (typeof message !== "object" || message === null) {
    return bad(`${what} returned ${_brief(message)}, not a message`);
  }
  const m = message as RosMessage;
  const code = m.error_code;
  if (typeof code === "string" && code !== "") {
    const text = typeof m.error_message === "string" && m.error_message !== ""
      ? m.error_message
      : `${what} failed with ${code}`;
    if (isSkillErrorCode(code)) {
      return { ok: false, error: { code, message: text } };
    }
    return bad(`${what} failed with the unknown error code "${code}": ${text}`);
  }
  try {
    switch (skill) {
      case "detect": {
        const objects = field(m, "objects", "array") as unknown[];
        return { ok: true, value: objects.map(toObj) };
      }
      case "holding": {
        const id = field(m, "object_id", "string") as string;
        return { ok: true, value: id === "" ? null : id };
      }
      case "workspace": {
        const value: Workspace = {
          xMin: field(m, "x_min", "number") as number,
          xMax: field(m, "x_max", "number") as number,
          yMin: field(m, "y_min", "number") as number,
          yMax: field(m, "y_max", "number") as number,
        };
        return { ok: true, value };
      }
      default:
        return { ok: true, value: null };
    }
  } catch (error) {
    if (error instanceof _BadMessage) {
      return bad(
        `Cannot use the result of ${skill}: ${what} returned a message whose ${error.message}`,
      );
    }
    throw error;
  }
}

/**
 * The held object as `holding`'s result may describe it (optional field
 * `object`, an object message like those of `detect`), or `undefined`.
 */
export function _decodeHeldObject(message: unknown): Obj | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const m = message as RosMessage;
  if (typeof m.object !== "object" || m.object === null) return undefined;
  try {
    const held = toObj(m.object, 0);
    return held.id === m.object_id ? held : undefined;
  } catch {
    return undefined;
  }
}

function bad(message: string): _Decoded {
  return { ok: false, error: { code: "backend_error", message } };
}
