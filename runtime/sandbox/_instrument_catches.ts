import * as acorn from "acorn";
import * as walk from "acorn-walk";

/**
 * The program with a call to `guard(e)` first in every catch clause that
 * binds its error to a name: `catch (e) {` becomes `catch (e) {guard(e);`.
 * Insertions add no line, so line numbers in errors and evidence stay the
 * program's. A catch without a binding, or with a destructuring pattern,
 * cannot hand the caught object on and is left alone. Source that does not
 * parse is returned as is (QuickJS reports its syntax error).
 *
 * @example
 * ```ts
 * import { _instrumentCatches } from "./_instrument_catches.ts";
 * const out = _instrumentCatches("try { x(); } catch (e) { throw e; }", "g");
 * if (out !== "try { x(); } catch (e) {g(e); throw e; }") throw new Error(out);
 * ```
 */
export function _instrumentCatches(source: string, guard: string): string {
  return _insertGuards(source, _catchSites(source), guard);
}

/** A catch clause that binds its error to a name: where its body begins. */
export interface _CatchSite {
  /** Offset just after the body's `{`. */
  offset: number;
  /** The name the clause binds the error to. */
  name: string;
}

/** The catch clauses of `source` that bind their error to a name, in order (parses it). */
export function _catchSites(source: string): _CatchSite[] {
  if (!source.includes("catch")) return [];
  let program: acorn.Program;
  try {
    program = acorn.parse(source, { ecmaVersion: 2022, sourceType: "script" });
  } catch {
    return [];
  }
  const at: _CatchSite[] = [];
  walk.simple(program, {
    CatchClause(node) {
      if (node.param?.type === "Identifier") {
        at.push({ offset: node.body.start + 1, name: node.param.name });
      }
    },
  });
  return at.sort((a, b) => a.offset - b.offset);
}

/** `source` with `guard(name);` inserted at each site (no parse). */
export function _insertGuards(
  source: string,
  sites: readonly _CatchSite[],
  guard: string,
): string {
  if (sites.length === 0) return source;
  let out = "";
  let last = 0;
  for (const { offset, name } of sites) {
    out += `${source.slice(last, offset)}${guard}(${name});`;
    last = offset;
  }
  return out + source.slice(last);
}
