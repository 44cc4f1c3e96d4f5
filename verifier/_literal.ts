import type * as acorn from "acorn";
import { _CONSTANTS, _MAX_LITERAL_DEPTH } from "./_rules.ts";

/**
 * Literal evaluation: the values of literal skill arguments (checked against
 * the skill's schema before the program runs) and of static keys.
 * @module
 */

type _Node = acorn.AnyNode;

/**
 * The value of a literal argument (literal leaves only), or `undefined`.
 * `isConstant(name)` says whether `undefined`, `NaN` or `Infinity` means the
 * global constant where it is used.
 */
export function _literalValue(
  node: _Node,
  isConstant: (name: string) => boolean,
  depth: number,
): { value: unknown } | undefined {
  if (depth > _MAX_LITERAL_DEPTH) return undefined;
  switch (node.type) {
    case "Literal":
      return node.regex ? undefined : { value: node.value };
    case "TemplateLiteral": {
      const cooked = node.quasis[0]?.value.cooked;
      return node.expressions.length === 0 && typeof cooked === "string"
        ? { value: cooked }
        : undefined;
    }
    case "Identifier":
      if (
        _CONSTANTS.has(node.name) && isConstant(node.name)
      ) {
        return {
          value: node.name === "NaN"
            ? NaN
            : node.name === "Infinity"
            ? Infinity
            : undefined,
        };
      }
      return undefined;
    case "UnaryExpression": {
      if (node.operator !== "-" && node.operator !== "+") return undefined;
      const inner = _literalValue(node.argument, isConstant, depth + 1);
      if (typeof inner?.value !== "number") return undefined;
      return { value: node.operator === "-" ? -inner.value : inner.value };
    }
    case "ArrayExpression": {
      const values: unknown[] = [];
      for (const e of node.elements) {
        if (e === null || e.type === "SpreadElement") return undefined;
        const v = _literalValue(e, isConstant, depth + 1);
        if (v === undefined) return undefined;
        values.push(v.value);
      }
      return { value: values };
    }
    case "ObjectExpression": {
      const value: Record<string, unknown> = {};
      for (const p of node.properties) {
        if (
          p.type !== "Property" || p.kind !== "init" || p.method ||
          p.computed
        ) return undefined;
        let key: string;
        if (p.key.type === "Identifier") key = p.key.name;
        else if (
          p.key.type === "Literal" &&
          (typeof p.key.value === "string" || typeof p.key.value === "number")
        ) key = String(p.key.value);
        else return undefined;
        const v = _literalValue(p.value, isConstant, depth + 1);
        if (v === undefined) return undefined;
        Object.defineProperty(value, key, {
          value: v.value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return { value };
    }
    default:
      return undefined;
  }
}

/** A string or number literal, or a template without substitutions, as a string. */
export function _staticString(node: _Node): string | undefined {
  if (node.type === "Literal") {
    if (typeof node.value === "string") return node.value;
    if (typeof node.value === "number" || typeof node.value === "bigint") {
      return String(node.value);
    }
    return undefined;
  }
  if (node.type === "TemplateLiteral" && node.expressions.length === 0) {
    const cooked = node.quasis[0]?.value.cooked;
    return typeof cooked === "string" ? cooked : undefined;
  }
  return undefined;
}
