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
  if (_depthAbove(value, STRICT_JSON_MAX_DEPTH)) {
    return {
      ok: false,
      reason: "too_deep",
      message: `it nests deeper than ${STRICT_JSON_MAX_DEPTH} levels`,
    };
  }
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

function _depthAbove(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (typeof item !== "object" || item === null) continue;
    if (depth >= max) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

function _errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}
