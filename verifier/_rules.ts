/**
 * The verifier's rules as data: which names, properties and constructs a
 * program may use, and the bounds of the check. The checker reads these sets
 * and `LANGUAGE_RULES` (the text the LLM reads) is rendered from them, so the
 * two cannot drift apart.
 * @module
 */

/** Default largest accepted source, in UTF-8 bytes. */
export const _DEFAULT_MAX_BYTES = 65536;
/** Deepest AST nesting the walker follows before reporting `too_large`. */
export const _MAX_DEPTH = 1000;
/** Deepest literal the argument and key checks evaluate. */
export const _MAX_LITERAL_DEPTH = 100;
/** How many issues a report lists; `omitted` counts the rest. */
export const _MAX_REPORTED_ISSUES = 100;
/**
 * Work bound of one check, in steps (nodes visited, key facts evaluated): a
 * source that needs more is `too_complex`. Deterministic, unlike a clock;
 * the runtime adds a wall-time bound around the whole check.
 */
export const _WORK_BUDGET = 2_000_000;
/** Longest source excerpt kept in a message. */
export const _MAX_SHOWN = 80;
/** The ECMAScript version the parser reads. */
export const _ECMA_VERSION = 2022;

/** The constructs a program may not use, as the prompt lists them. */
export const _FORBIDDEN_CONSTRUCTS: readonly string[] = [
  "import/export",
  "classes",
  "async/await",
  "generators",
  "getters/setters",
  "labels",
  "with",
  "debugger",
  "regular-expression literals",
  "tagged templates",
  "this",
  "arguments",
  "new.target",
  "eval",
  "Function",
  "globalThis",
  "Date",
  "Math.random",
  "timers",
  "Promise",
  "Symbol",
  "Proxy",
  "Reflect",
  "console",
];

/** Property names that reach prototypes, constructors or call stacks. */
export const _FORBIDDEN_PROPERTIES: ReadonlySet<string> = new Set([
  "__proto__",
  "constructor",
  "prototype",
  "caller",
  "callee",
  "arguments",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
]);

/** String methods that need regular expressions (the sandbox has none). */
export const _REGEXP_METHODS: ReadonlySet<string> = new Set([
  "match",
  "matchAll",
  "search",
]);

/** Values that are always allowed (and never declarable). */
export const _CONSTANTS: ReadonlySet<string> = new Set([
  "undefined",
  "NaN",
  "Infinity",
]);

/** Builtins usable only as `X.member` (aliasing `Object` would expose reflection). */
export const _MEMBER_ONLY: ReadonlySet<string> = new Set([
  "Math",
  "JSON",
  "Object",
]);

/** Names that may not be declared besides the skills, builtins and constants. */
export const _UNDECLARABLE: ReadonlySet<string> = new Set([
  "eval",
  "arguments",
  "await",
  "yield",
]);

/**
 * Well-known host and language globals that are not allowed. A call to one of
 * them is `forbidden_identifier` (the LLM must not write a helper with that
 * name); a call to any other undeclared name is `unknown_function`.
 */
export const _KNOWN_GLOBALS: ReadonlySet<string> = new Set([
  "globalThis",
  "window",
  "self",
  "global",
  "Function",
  "AsyncFunction",
  "GeneratorFunction",
  "eval",
  "Proxy",
  "Reflect",
  "Symbol",
  "WebAssembly",
  "Date",
  "Deno",
  "Bun",
  "process",
  "require",
  "module",
  "exports",
  "Promise",
  "setTimeout",
  "setInterval",
  "setImmediate",
  "clearTimeout",
  "clearInterval",
  "clearImmediate",
  "queueMicrotask",
  "requestAnimationFrame",
  "SharedArrayBuffer",
  "ArrayBuffer",
  "DataView",
  "Atomics",
  "RegExp",
  "console",
  "arguments",
  "fetch",
  "XMLHttpRequest",
  "WebSocket",
  "Worker",
  "postMessage",
  "importScripts",
  "structuredClone",
  "Map",
  "Set",
  "WeakMap",
  "WeakSet",
  "WeakRef",
  "FinalizationRegistry",
  "Intl",
  "Iterator",
  "BigInt",
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
  "EvalError",
  "ReferenceError",
  "SyntaxError",
  "URIError",
  "AggregateError",
  "escape",
  "unescape",
  "encodeURI",
  "encodeURIComponent",
  "decodeURI",
  "decodeURIComponent",
  "performance",
  "crypto",
  "navigator",
  "document",
  "location",
  "localStorage",
  "atob",
  "btoa",
]);
