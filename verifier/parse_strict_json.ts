import { parse as parseJsonTree } from "@humanwhocodes/momoa";

/** How deep arrays and objects may nest in strict JSON (the signed formats nest a few levels). */
export const STRICT_JSON_MAX_DEPTH = 32;

/** The outcome of {@linkcode parseStrictJson}. */
export type StrictJson =
  | { ok: true; value: unknown }
  | {
    ok: false;
    /**
     * `bad_json`: not JSON (as `JSON.parse` reads it); `too_deep`: nests deeper
     * than {@linkcode STRICT_JSON_MAX_DEPTH}; `duplicate_key`: an object holds
     * the same key twice, compared after unescaping (`"a"` and `"\u0061"` are
     * the same key).
     */
    reason: "bad_json" | "too_deep" | "duplicate_key";
    /** Says what is wrong and where, e.g. `duplicate key "robots" in the object at $.budgets (line 3, column 5)`. */
    message: string;
  };

/**
 * Parses JSON text strictly: exactly what `JSON.parse` accepts, except that
 * an object with a duplicate key anywhere (compared after unescaping) is
 * refused instead of letting the last key win, and nesting is bounded. A
 * reader that keeps the first key, or a reviewer's tool that refuses
 * duplicates, would otherwise see a different document than the robot.
 *
 * Never throws.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseStrictJson } from "./parse_strict_json.ts";
 * equal(parseStrictJson('{"a": 1}').ok, true);
 * const twice = parseStrictJson('{"a": 1, "\\u0061": 2}');
 * equal(twice.ok ? "" : twice.reason, "duplicate_key");
 * ```
 */
export function parseStrictJson(text: string): StrictJson {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: "bad_json", message: _errorText(error) };
  }
  if (typeof value !== "object" || value === null) return { ok: true, value };
  const parsedKeys = _keysBelow(value, STRICT_JSON_MAX_DEPTH);
  if (parsedKeys === undefined) {
    return {
      ok: false,
      reason: "too_deep",
      message: `it nests deeper than ${STRICT_JSON_MAX_DEPTH} levels`,
    };
  }
  // A duplicate is a key the text has and the value lost. Without one, the
  // tree below (ten times JSON.parse's time and garbage: 0.7 ms for a 64 KiB
  // manifest) is not needed; with one, it says where.
  if (_keysInText(text) === parsedKeys) return { ok: true, value };
  let tree: _JsonNode;
  try {
    tree = parseJsonTree(text, { mode: "json" }).body as _JsonNode;
  } catch (error) {
    // JSON.parse accepted it, so this is the tree parser's own limit; refuse.
    return { ok: false, reason: "bad_json", message: _errorText(error) };
  }
  const duplicate = _findDuplicateKey(tree);
  if (duplicate !== undefined) {
    return { ok: false, reason: "duplicate_key", message: duplicate };
  }
  return { ok: true, value };
}

/** The parts of a momoa tree node this check reads. */
interface _JsonNode {
  type: string;
  members?: { name: { value: string; loc: _Loc }; value: _JsonNode }[];
  elements?: { value: _JsonNode }[];
}
interface _Loc {
  start: { line: number; column: number };
}

/** The first duplicate key in document order, as a sentence; iterative (no stack growth). */
function _findDuplicateKey(root: _JsonNode): string | undefined {
  const stack: { node: _JsonNode; path: string }[] = [{
    node: root,
    path: "$",
  }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    const children: { node: _JsonNode; path: string }[] = [];
    if (node.type === "Object" && node.members !== undefined) {
      const seen = new Set<string>();
      for (const member of node.members) {
        const key = member.name.value;
        if (seen.has(key)) {
          const { line, column } = member.name.loc.start;
          return `duplicate key ${
            _showKey(key)
          } in the object at ${path} (line ${line}, column ${column})`;
        }
        seen.add(key);
        children.push({ node: member.value, path: `${path}.${_pathKey(key)}` });
      }
    } else if (node.type === "Array" && node.elements !== undefined) {
      node.elements.forEach((element, i) =>
        children.push({ node: element.value, path: `${path}[${i}]` })
      );
    }
    // Reversed so that the first duplicate in document order is found first.
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
  return undefined;
}

function _showKey(key: string): string {
  const text = JSON.stringify(key);
  return text.length > 62 ? `${text.slice(0, 60)}…"` : text;
}

function _pathKey(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/.test(key)
    ? key
    : `[${_showKey(key)}]`;
}

/**
 * How many keys the objects in `value` hold together, or `undefined` when
 * it nests deeper than `max`.
 */
function _keysBelow(value: unknown, max: number): number | undefined {
  let keys = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth >= max) return undefined;
    const children = Object.values(item);
    if (!Array.isArray(item)) keys += children.length;
    for (const child of children) stack.push([child, depth + 1]);
  }
  return keys;
}

/**
 * How many object keys `text` (which `JSON.parse` accepted) spells: the
 * strings followed by a colon. Outside strings JSON has no quote, so each
 * quote found there opens a string; it ends at the next quote not escaped
 * (preceded by an even run of backslashes).
 */
function _keysInText(text: string): number {
  let keys = 0;
  let at = text.indexOf('"');
  while (at >= 0) {
    let end = at;
    for (;;) {
      end = text.indexOf('"', end + 1);
      if (end < 0) return keys;
      let slashes = 0;
      while (text.charCodeAt(end - 1 - slashes) === 92) slashes++;
      if (slashes % 2 === 0) break;
    }
    let next = end + 1;
    for (;;) {
      const c = text.charCodeAt(next);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      next++;
    }
    if (text.charCodeAt(next) === 58) keys++;
    at = text.indexOf('"', next);
  }
  return keys;
}

function _errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
