import {
  _FORBIDDEN_CONSTRUCTS,
  _FORBIDDEN_PROPERTIES,
  _MEMBER_ONLY,
  _REGEXP_METHODS,
} from "./_rules.ts";
import { ALLOWED_BUILTINS } from "./allowed_builtins.ts";
import { SANDBOX_LIMITS } from "./sandbox_limits.ts";

const _list = (items: Iterable<string>): string => [...items].join(", ");
const _or = (items: readonly string[]): string =>
  items.length < 2
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
const _power = (n: number): string => {
  const exponent = Math.log10(n);
  return Number.isInteger(exponent) ? `10^${exponent}` : String(n);
};

/**
 * A short plain-text description of the JavaScript subset the verifier
 * accepts, for the LLM prompt. It is rendered from the rules the verifier
 * enforces (`_rules.ts`) and the sandbox's limits (`SANDBOX_LIMITS`), so the
 * prompt and the checks cannot drift apart; the allowed globals themselves
 * are in `ALLOWED_BUILTINS`.
 */
export const LANGUAGE_RULES: string = `\
Write a plain JavaScript script: top-level statements and function declarations, no modules.
Skills are synchronous global functions: call them directly (no await); a failed skill throws an Error with a "code".
Allowed: const/let/var, functions (declarations, expressions, arrows), if/else, for, for...of, for...in, while, do...while, switch, break/continue (without labels), try/catch/finally, throw, object and array literals, destructuring, spread, template literals, optional chaining, and methods on values (xs.map, xs.filter, xs.find, s.includes, ...).
Globals: only the skills, the listed builtins (${
  _list(ALLOWED_BUILTINS.map((b) => b.name))
}; use only their listed members), undefined, NaN, Infinity, and names your program declares. ${
  _or([..._MEMBER_ONLY])
} may only be used as ${[..._MEMBER_ONLY][0]}.<member> etc.
Not allowed: ${_list(_FORBIDDEN_CONSTRUCTS)}.
Never declare or assign a name that is a skill or a builtin (no "let Math", no "function pick").
Property names ${
  _or([..._FORBIDDEN_PROPERTIES])
} are refused everywhere, however they are spelled.
Computed access obj[key] (and computed keys { [key]: v }) is allowed when the key provably cannot be one of those names: a number or arithmetic (xs[i], xs[xs.length - 1]), a string with a literal prefix or suffix ("blue_" + c, \`\${c}_block\`), a field of a skill's result the program does not change (byColor[block.color], counts[o.kind]), or a const of those. A key the verifier cannot prove safe (a function parameter, a property of your own object, a call result) is refused.
Call a helper only after declaring it as a function in your program; a call to an undeclared name is reported as unknown function "name".
Skill arguments that are literals are checked against the skill's parameter types before the program runs.
There are no regular expressions: use includes, indexOf, split, startsWith, endsWith, trim (${
  _or([..._REGEXP_METHODS])
} are refused).
Array methods refuse arrays longer than ${SANDBOX_LIMITS.maxArrayLength} elements (array lengths must be numbers); iterator helpers are not available; string searches refuse text x pattern over ${
  _power(SANDBOX_LIMITS.maxCompareWork)
} characters; skill arguments must be small plain data (at most ${SANDBOX_LIMITS.maxSkillArgumentDepth} levels deep).
`;
