/**
 * A short plain-text description of the JavaScript subset the verifier
 * accepts, for the LLM prompt. It lists the rules `verifyProgram` enforces;
 * the allowed globals themselves are in `ALLOWED_BUILTINS`.
 */
export const LANGUAGE_RULES: string = `\
Write a plain JavaScript script: top-level statements and function declarations, no modules.
Skills are synchronous global functions: call them directly (no await); a failed skill throws an Error with a "code".
Allowed: const/let/var, functions (declarations, expressions, arrows), if/else, for, for...of, for...in, while, do...while, switch, break/continue (without labels), try/catch/finally, throw, object and array literals, destructuring, spread, template literals, optional chaining, and methods on values (xs.map, xs.filter, xs.find, s.includes, ...).
Globals: only the skills, the listed builtins (Math, JSON, Array, Object, String, Number, Boolean, Error, TypeError, RangeError, isFinite, isNaN, parseFloat, parseInt; use only their listed members), undefined, NaN, Infinity, and names your program declares. Math, JSON and Object may only be used as Math.<member> etc.
Not allowed: import/export, classes, async/await, generators, getters/setters, labels, with, debugger, regular-expression literals, tagged templates, this, arguments, new.target, eval, Function, globalThis, Date, Math.random, timers, Promise, Symbol, Proxy, Reflect, console.
Never declare or assign a name that is a skill or a builtin (no "let Math", no "function pick").
Property names __proto__, constructor, prototype, caller, callee, arguments, __defineGetter__, __defineSetter__, __lookupGetter__ and __lookupSetter__ are refused everywhere.
Computed access obj[key] is allowed with a number, a variable, a member such as a.b, or arithmetic on those (a.length - 1, i + 1); not with string concatenation or a call.
Call a helper only after declaring it as a function in your program; a call to an undeclared name is reported as unknown function "name".
Skill arguments that are literals are checked against the skill's parameter types before the program runs.
There are no regular expressions: use includes, indexOf, split, startsWith, endsWith, trim (match, matchAll and search are refused).
Array methods refuse arrays longer than 100000 elements (array lengths must be numbers); iterator helpers are not available; string searches refuse text x pattern over 10^7 characters; skill arguments must be small plain data (at most 32 levels deep).
`;
