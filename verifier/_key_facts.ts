import type * as acorn from "acorn";
import {
  _CONSTANTS,
  _FORBIDDEN_PROPERTIES,
  _MAX_DEPTH,
  _MAX_LITERAL_DEPTH,
} from "./_rules.ts";
import {
  _collectLexicalNames,
  _collectVarNames,
  _patternNames,
} from "./_scope.ts";

/**
 * What the verifier can prove about the value of a computed key, whatever
 * its spelling (`o[k]`, `o["a" + b]`, `` o[`${a}_b`] ``, `{ [k]: v }`).
 *
 * The rule: a key is safe when every value it can take is a number, boolean,
 * null or undefined, a string that cannot equal a forbidden property name,
 * or data the program read unchanged from a skill's result (the world's ids,
 * colours and kinds: the program cannot choose them). Everything else is
 * refused. Strings are tracked as small sets of patterns of literal text
 * and holes (any text, or the text of a number), so `"blue_" + c` and
 * `` `${c}_block` `` are safe for any `c`, and `const k = "constr" + "uctor"`
 * is not.
 *
 * Variables are followed through their scopes, flow-insensitively: the
 * value of a binding is the join of every value ever written to it
 * (declaration, assignments, updates, loop heads), computed as a least
 * fixpoint. Parameters, catch bindings and destructuring of unknown values
 * are unknown, except a callback's element parameter of a skill result
 * (`detect().filter((o) => …)`).
 *
 * Skill data stays "host" data only while the program cannot have changed
 * it: a property the program writes anywhere (`o.color = …`) is no longer
 * host data, and a computed write, a mutating array method (`push`,
 * `splice`, …) or `Object.assign` into anything but the program's own
 * literals makes no skill data host data.
 */

type _Node = acorn.AnyNode;

/** A hole in a string pattern: any text, or the text of a number/boolean/null/undefined. */
const _ANY = 0 as const;
const _PRIM = 1 as const;
type _Segment = string | typeof _ANY | typeof _PRIM;
type _Pattern = readonly _Segment[];

/** An abstract value: the union of what the flags and patterns allow. */
interface _Facts {
  /** Anything at all. */
  readonly top: boolean;
  /** A number, bigint, boolean, null or undefined. */
  readonly prim: boolean;
  /** Data read unchanged from a skill's result. */
  readonly host: boolean;
  /** An object, array or function the program made. */
  readonly plain: boolean;
  /** Strings matching one of these patterns. */
  readonly strs: readonly _Pattern[];
  /**
   * With `plain`: the array is `Object.keys` of an object the program made
   * and never let escape, whose elements are these keys.
   */
  readonly keyList?: _Facts | undefined;
}

const _BOTTOM: _Facts = {
  top: false,
  prim: false,
  host: false,
  plain: false,
  strs: [],
};
const _TOP: _Facts = { ..._BOTTOM, top: true };
const _PRIM_FACTS: _Facts = { ..._BOTTOM, prim: true };
const _HOST: _Facts = { ..._BOTTOM, host: true };
const _PLAIN: _Facts = { ..._BOTTOM, plain: true };
const _ANY_STRING: _Facts = { ..._BOTTOM, strs: [[_ANY]] };

const _MAX_PATTERNS = 8;
const _MAX_SEGMENTS = 12;
const _MAX_LITERAL = 256;
const _MAX_ROUNDS = 16;

/** Array methods that only select elements of a skill result (results stay host data). */
const _SELECTORS: ReadonlySet<string> = new Set([
  "find",
  "findLast",
  "filter",
  "slice",
  "at",
  "sort",
  "reverse",
  "toSorted",
  "toReversed",
]);
/** Methods whose result is a number or boolean on arrays and strings. */
const _NUMERIC_METHODS: ReadonlySet<string> = new Set([
  "indexOf",
  "lastIndexOf",
  "findIndex",
  "findLastIndex",
  "includes",
  "some",
  "every",
  "startsWith",
  "endsWith",
  "isArray",
]);
/** Array methods whose callback's first parameter is an element. */
const _ELEMENT_CALLBACKS: ReadonlySet<string> = new Set([
  "forEach",
  "map",
  "filter",
  "find",
  "findLast",
  "findIndex",
  "findLastIndex",
  "some",
  "every",
  "flatMap",
]);
/** Array methods that put new elements into their receiver. */
const _MUTATORS: ReadonlySet<string> = new Set([
  "push",
  "unshift",
  "splice",
  "fill",
  "copyWithin",
]);
/** Builtins whose call result is a number or boolean. */
const _NUMERIC_BUILTINS: ReadonlySet<string> = new Set([
  "Number",
  "Boolean",
  "parseInt",
  "parseFloat",
  "isNaN",
  "isFinite",
]);

/** The verdict on one key. */
export type _KeyVerdict =
  | { safe: true }
  | { safe: false; example: string | undefined };

type _Write = () => _Facts;

/** A scope of the key analysis: declared names and their binding ids. */
interface _KScope {
  readonly parent: _KScope | null;
  readonly names: Map<string, number>;
}

/** Raised when the analysis runs past its step budget. */
export class _OutOfBudget extends Error {
  constructor() {
    super("the key analysis ran past its step budget");
  }
}

/** The key analysis of one program (built on first use, then reused). */
export class _KeyFacts {
  readonly #skills: ReadonlySet<string>;
  /** Writes per binding id. */
  readonly #writes = new Map<number, _Write[]>();
  readonly #values = new Map<number, _Facts>();
  /** The binding each identifier refers to (absent: a global). */
  readonly #refs = new Map<_Node, number>();
  readonly #callbackReceiver = new Map<_Node, _Node>();
  /** Object literals written to a binding (a closed object's key sources). */
  readonly #objectInits = new Map<number, acorn.ObjectExpression[]>();
  /** Bindings written anything but an object literal. */
  readonly #otherWrites = new Set<number>();
  /** Keys written into a binding's object (`o[k] = …`, `o.k = …`). */
  readonly #keyWrites = new Map<number, _Write[]>();
  /** Bindings referenced other than as `b.x`, `b[k]`, `Object.keys(b)`, … */
  readonly #escaped = new Set<number>();
  /** Identifier nodes that are such harmless uses. */
  readonly #safeUses = new Set<_Node>();
  /** Closed objects whose keys are being computed (a key built from the keys). */
  readonly #keysInProgress = new Set<number>();
  /**
   * The keys of closed objects as computed under the current values (kept
   * only when no object in progress cut the computation short): an object
   * whose keys come from another's is computed once, not once per use.
   * Cleared whenever the values change.
   */
  readonly #keysMemo = new Map<number, _Facts | undefined>();
  /** Set when a key computation met an object already in progress. */
  #metInProgress = false;
  #bindings = 0;
  readonly #taintedFields = new Set<string>();
  /** Receivers of mutations: if one may be skill data, no skill data is host data. */
  readonly #mutated: _Node[] = [];
  readonly #callbackParams = new Map<_Node, number>();
  readonly #step: () => void;
  #taintAll = false;
  /** A key list may have been changed: no key list is trusted. */
  #taintKeys = false;
  #gaveUp = false;

  constructor(
    root: _Node,
    skills: ReadonlySet<string>,
    step: (weight: number) => void,
  ) {
    this.#skills = skills;
    // Each step also pays for the string patterns built since the last one
    // (many, long patterns cost far more than one node).
    _patternWork = 0;
    this.#step = () => {
      const weight = 1 + _patternWork;
      _patternWork = 0;
      step(weight);
    };
    const body = root.type === "Program" ? root.body : [];
    const scope = this.#scope(null, body, "function");
    if (root.type === "Program") {
      for (const statement of root.body) this.#collect(statement, scope, 0);
    } else this.#collect(root, scope, 0);
    this.#solve();
  }

  /** Whether the key expression provably names no forbidden property. */
  verdict(key: _Node): _KeyVerdict {
    if (this.#gaveUp) return { safe: false, example: undefined };
    const facts = this.#eval(key, 0);
    if (facts.top || facts.plain) return { safe: false, example: undefined };
    for (const pattern of facts.strs) {
      const example = _forbiddenMatch(pattern);
      if (example !== undefined) return { safe: false, example };
    }
    return { safe: true };
  }

  // ---- collecting writes ---------------------------------------------------

  /** A new scope declaring the names `body` declares (`function`: with its hoisted vars). */
  #scope(
    parent: _KScope | null,
    body: ReadonlyArray<_Node>,
    kind: "function" | "block",
    extra: Iterable<string> = [],
  ): _KScope {
    const names = new Set<string>(extra);
    if (kind === "function") {
      for (const statement of body) _collectVarNames(statement, names);
    }
    _collectLexicalNames(body, names);
    const scope: _KScope = { parent, names: new Map() };
    for (const name of names) scope.names.set(name, this.#bindings++);
    return scope;
  }

  #resolve(scope: _KScope | null, name: string): number | undefined {
    for (let s = scope; s !== null; s = s.parent) {
      const id = s.names.get(name);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  #write(
    scope: _KScope,
    name: string,
    write: _Write,
    literal?: acorn.ObjectExpression,
  ): void {
    const id = this.#resolve(scope, name);
    if (id === undefined) return; // An implicit global: refused by the checker.
    if (literal === undefined) this.#otherWrites.add(id);
    else {
      const inits = this.#objectInits.get(id);
      if (inits === undefined) this.#objectInits.set(id, [literal]);
      else inits.push(literal);
    }
    const list = this.#writes.get(id);
    if (list === undefined) this.#writes.set(id, [write]);
    else list.push(write);
  }

  /** Records what a binding pattern receives (`value` is the whole value). */
  #bind(pattern: _Node, scope: _KScope, value: _Write, depth: number): void {
    if (depth > _MAX_LITERAL_DEPTH) {
      this.#gaveUp = true;
      return;
    }
    switch (pattern.type) {
      case "Identifier":
        this.#write(scope, pattern.name, value);
        return;
      case "AssignmentPattern": {
        const fallback = pattern.right;
        this.#bind(
          pattern.left,
          scope,
          () => _join(value(), this.#eval(fallback, 0)),
          depth + 1,
        );
        return;
      }
      case "ObjectPattern":
        for (const p of pattern.properties) {
          if (p.type === "RestElement") {
            this.#bind(p.argument, scope, () => _PLAIN, depth + 1);
          } else if (!p.computed && p.key.type === "Identifier") {
            const field = p.key.name;
            this.#bind(
              p.value,
              scope,
              () => this.#field(value(), field),
              depth + 1,
            );
          } else this.#bind(p.value, scope, () => _TOP, depth + 1);
        }
        return;
      case "ArrayPattern":
        for (const e of pattern.elements) {
          if (e === null) continue;
          if (e.type === "RestElement") {
            this.#bind(
              e.argument,
              scope,
              () => this.#selection(value()),
              depth + 1,
            );
          } else {
            this.#bind(e, scope, () => this.#element(value()), depth + 1);
          }
        }
        return;
      case "RestElement":
        this.#bind(pattern.argument, scope, () => _TOP, depth + 1);
        return;
      case "MemberExpression":
        this.#memberWrite(pattern, scope);
        return;
      default:
        return;
    }
  }

  #memberWrite(node: acorn.MemberExpression, scope: _KScope): void {
    const property = node.property;
    let key: _Write;
    if (!node.computed && property.type === "Identifier") {
      this.#taintedFields.add(property.name);
      key = () => _exact(property.name);
    } else {
      this.#mutated.push(node.object);
      key = () => _toText(this.#eval(property, 0));
    }
    if (node.object.type === "Identifier") {
      const id = this.#resolve(scope, node.object.name);
      if (id !== undefined) {
        const list = this.#keyWrites.get(id);
        if (list === undefined) this.#keyWrites.set(id, [key]);
        else list.push(key);
      }
    }
  }

  /** The keys of the closed object a binding holds, or `undefined` when not closed. */
  #keysOf(id: number): _Facts | undefined {
    const inits = this.#objectInits.get(id);
    if (
      inits === undefined || this.#otherWrites.has(id) || this.#escaped.has(id)
    ) return undefined;
    if (this.#keysInProgress.has(id)) {
      this.#metInProgress = true;
      return undefined;
    }
    if (this.#keysMemo.has(id)) return this.#keysMemo.get(id);
    const outer = this.#metInProgress;
    this.#metInProgress = false;
    this.#keysInProgress.add(id);
    try {
      const keys = this.#keysOfClosed(inits, id);
      if (!this.#metInProgress) this.#keysMemo.set(id, keys);
      return keys;
    } finally {
      this.#keysInProgress.delete(id);
      this.#metInProgress ||= outer;
    }
  }

  #keysOfClosed(
    inits: readonly acorn.ObjectExpression[],
    id: number,
  ): _Facts | undefined {
    let keys = _BOTTOM;
    for (const literal of inits) {
      for (const p of literal.properties) {
        if (p.type !== "Property") return undefined;
        if (p.computed) keys = _join(keys, _toText(this.#eval(p.key, 0)));
        else if (p.key.type === "Identifier") {
          keys = _join(keys, _exact(p.key.name));
        } else if (p.key.type === "Literal") {
          keys = _join(keys, _exact(String(p.key.value)));
        } else return undefined;
      }
    }
    for (const write of this.#keyWrites.get(id) ?? []) {
      keys = _join(keys, write());
    }
    return keys;
  }

  /** `Object.keys(node)`: a key list when `node` names a closed object. */
  #keyList(node: _Node): _Facts {
    if (node.type !== "Identifier") return _TOP;
    const id = this.#refs.get(node);
    const keys = id === undefined ? undefined : this.#keysOf(id);
    return keys === undefined ? _TOP : { ..._PLAIN, keyList: keys };
  }

  #collect(
    node: _Node | null | undefined,
    scope: _KScope,
    depth: number,
  ): void {
    if (!node) return;
    this.#step();
    if (depth > _MAX_DEPTH) {
      this.#gaveUp = true;
      return;
    }
    const next = depth + 1;
    switch (node.type) {
      case "Identifier": {
        const id = this.#resolve(scope, node.name);
        if (id !== undefined) {
          this.#refs.set(node, id);
          if (!this.#safeUses.has(node)) this.#escaped.add(id);
        }
        return;
      }
      case "VariableDeclarator":
        if (node.id.type === "Identifier") this.#safeUses.add(node.id);
        if (
          node.init?.type === "ObjectExpression" &&
          node.id.type === "Identifier"
        ) {
          const init = node.init;
          this.#write(scope, node.id.name, () => this.#eval(init, 0), init);
        } else if (node.init) {
          const init = node.init;
          this.#bind(node.id, scope, () => this.#eval(init, 0), 0);
        } else if (node.id.type === "Identifier") {
          this.#write(scope, node.id.name, () => _PRIM_FACTS);
        }
        break;
      case "BlockStatement":
        this.#collectAll(
          node.body,
          this.#scope(scope, node.body, "block"),
          next,
        );
        return;
      case "SwitchStatement": {
        this.#collect(node.discriminant, scope, next);
        const consequents = node.cases.flatMap((c) => c.consequent);
        const inner = this.#scope(scope, consequents, "block");
        for (const c of node.cases) {
          this.#collect(c.test, inner, next);
          this.#collectAll(c.consequent, inner, next);
        }
        return;
      }
      case "ForStatement": {
        const inner = node.init?.type === "VariableDeclaration"
          ? this.#scope(scope, [node.init], "block")
          : scope;
        this.#collect(node.init, inner, next);
        this.#collect(node.test, inner, next);
        this.#collect(node.update, inner, next);
        this.#collect(node.body, inner, next);
        return;
      }
      case "ForOfStatement":
      case "ForInStatement": {
        const right = node.right;
        const inner = node.left.type === "VariableDeclaration"
          ? this.#scope(scope, [node.left], "block")
          : scope;
        if (node.type === "ForInStatement" && right.type === "Identifier") {
          this.#safeUses.add(right);
        }
        const element: _Write = node.type === "ForOfStatement"
          ? () => this.#element(this.#eval(right, 0))
          : () => this.#forInKeys(right);
        const left = node.left.type === "VariableDeclaration"
          ? node.left.declarations[0]?.id
          : node.left;
        if (left) {
          this.#bind(left, inner, element, 0);
          // Default values and member targets hold references too.
          this.#collect(left, inner, next);
        }
        this.#collect(right, scope, next);
        this.#collect(node.body, inner, next);
        return;
      }
      case "CatchClause": {
        const names = new Set<string>();
        if (node.param) _patternNames(node.param, names);
        const inner = this.#scope(scope, [], "block", names);
        if (node.param) {
          this.#bind(node.param, inner, () => _TOP, 0);
          this.#collect(node.param, inner, next);
        }
        this.#collect(node.body, inner, next);
        return;
      }
      case "AssignmentExpression": {
        const { left, right, operator } = node;
        if (left.type === "Identifier") {
          this.#safeUses.add(left);
        }
        if (
          left.type === "Identifier" && operator === "=" &&
          right.type === "ObjectExpression"
        ) {
          this.#write(scope, left.name, () => this.#eval(right, 0), right);
        } else if (left.type === "Identifier") {
          const name = left.name;
          const id = this.#resolve(scope, name);
          this.#write(scope, name, () => {
            const r = this.#eval(right, 0);
            if (operator === "=") return r;
            const before = id === undefined ? _TOP : this.#lookup(id);
            if (operator === "+=") return _plus(before, r);
            if (
              operator === "&&=" || operator === "||=" || operator === "??="
            ) return _join(before, r);
            return _PRIM_FACTS;
          });
        } else this.#bind(left, scope, () => this.#eval(right, 0), 0);
        break;
      }
      case "UpdateExpression":
        if (node.argument.type === "Identifier") {
          this.#safeUses.add(node.argument);
          this.#write(scope, node.argument.name, () => _PRIM_FACTS);
        } else if (node.argument.type === "MemberExpression") {
          this.#memberWrite(node.argument, scope);
        }
        break;
      case "FunctionDeclaration":
      case "FunctionExpression":
      case "ArrowFunctionExpression": {
        let outer = scope;
        if (node.type === "FunctionDeclaration" && node.id) {
          this.#write(scope, node.id.name, () => _PLAIN);
        } else if (node.type === "FunctionExpression" && node.id) {
          outer = this.#scope(scope, [], "block", [node.id.name]);
          this.#write(outer, node.id.name, () => _PLAIN);
        }
        const params = new Set<string>();
        for (const param of node.params) _patternNames(param, params);
        const body = node.body.type === "BlockStatement" ? node.body.body : [];
        const inner = this.#scope(outer, body, "function", params);
        const elementParam = this.#callbackParams.get(node);
        const receiver = this.#callbackReceiver.get(node);
        node.params.forEach((param, i) => {
          if (i === elementParam && receiver !== undefined) {
            this.#bind(
              param,
              inner,
              () => this.#element(this.#eval(receiver, 0)),
              0,
            );
          } else this.#bind(param, inner, () => _TOP, 0);
          this.#collect(param, inner, next);
        });
        if (node.body.type === "BlockStatement") {
          this.#collectAll(body, inner, next);
        } else this.#collect(node.body, inner, next);
        return;
      }
      case "CallExpression":
        this.#noteCall(node);
        break;
      case "MemberExpression":
        if (node.object.type === "Identifier") this.#safeUses.add(node.object);
        this.#collect(node.object, scope, next);
        if (node.computed) this.#collect(node.property, scope, next);
        return;
      case "BinaryExpression":
        if (node.operator === "in" && node.right.type === "Identifier") {
          this.#safeUses.add(node.right);
        }
        break;
      case "Property":
        if (node.computed) this.#collect(node.key, scope, next);
        this.#collect(node.value, scope, next);
        return;
      default:
        break;
    }
    for (const child of _children(node)) this.#collect(child, scope, next);
  }

  #collectAll(
    nodes: ReadonlyArray<_Node>,
    scope: _KScope,
    depth: number,
  ): void {
    for (const node of nodes) this.#collect(node, scope, depth);
  }

  #noteCall(node: acorn.CallExpression): void {
    const callee = node.callee;
    if (callee.type !== "MemberExpression" || callee.computed) return;
    if (callee.property.type !== "Identifier") return;
    const method = callee.property.name;
    const receiver = callee.object;
    if (
      receiver.type === "Identifier" && receiver.name === "Object" &&
      (method === "keys" || method === "values" || method === "entries") &&
      node.arguments[0]?.type === "Identifier"
    ) this.#safeUses.add(node.arguments[0]);
    if (_MUTATORS.has(method)) this.#mutated.push(receiver);
    if (
      method === "assign" && receiver.type === "Identifier" &&
      receiver.name === "Object"
    ) {
      const target = node.arguments[0];
      if (target !== undefined && target.type !== "ObjectExpression") {
        this.#mutated.push(target);
      }
    }
    const callback = node.arguments[0];
    const index = _ELEMENT_CALLBACKS.has(method)
      ? 0
      : method === "reduce" || method === "reduceRight"
      ? 1
      : undefined;
    if (
      index !== undefined && callback !== undefined &&
      (callback.type === "ArrowFunctionExpression" ||
        callback.type === "FunctionExpression")
    ) {
      this.#callbackParams.set(callback, index);
      this.#callbackReceiver.set(callback, receiver);
    }
  }

  // ---- solving -------------------------------------------------------------

  #solve(): void {
    for (let pass = 0; pass < 3; pass++) {
      this.#fixpoint();
      // A mutated receiver that may hold skill data: no skill data is host
      // data; one that may be a key list: no key list is trusted.
      let tainted = false;
      for (const receiver of this.#mutated) {
        const facts = this.#eval(receiver, 0);
        if (!this.#taintAll && (facts.top || facts.host)) {
          this.#taintAll = true;
          tainted = true;
        }
        if (!this.#taintKeys && (facts.top || facts.keyList !== undefined)) {
          this.#taintKeys = true;
          tainted = true;
        }
      }
      if (!tainted) return;
      this.#values.clear();
      this.#keysMemo.clear();
    }
    this.#gaveUp = true;
  }

  #fixpoint(): void {
    for (let round = 0; round < _MAX_ROUNDS; round++) {
      let changed = false;
      for (const [id, writes] of this.#writes) {
        let value = _BOTTOM;
        for (const write of writes) {
          this.#step();
          value = _join(value, write());
          if (value.top) break;
        }
        const before = this.#values.get(id);
        if (before === undefined || !_same(before, value)) {
          this.#values.set(id, value);
          this.#keysMemo.clear();
          changed = true;
        }
      }
      if (!changed) return;
    }
    // Not settled: whatever still changes could be anything.
    this.#gaveUp = true;
  }

  #lookup(id: number): _Facts {
    return this.#values.get(id) ?? _BOTTOM;
  }

  // ---- evaluation ----------------------------------------------------------

  #eval(node: _Node, depth: number): _Facts {
    this.#step();
    if (depth > _MAX_LITERAL_DEPTH) return _TOP;
    switch (node.type) {
      case "Literal":
        if (typeof node.value === "string") return _exact(node.value);
        if (node.regex !== undefined) return _TOP;
        return _PRIM_FACTS;
      case "TemplateLiteral": {
        let out: _Facts = _exact(node.quasis[0]?.value.cooked ?? "");
        node.expressions.forEach((e, i) => {
          out = _concat(out, _toText(this.#eval(e, depth + 1)));
          out = _concat(out, _exact(node.quasis[i + 1]?.value.cooked ?? ""));
        });
        return node.quasis.some((q) => typeof q.value.cooked !== "string")
          ? _TOP
          : out;
      }
      case "Identifier": {
        const id = this.#refs.get(node);
        if (id !== undefined) return this.#lookup(id);
        if (_CONSTANTS.has(node.name)) return _PRIM_FACTS;
        if (this.#skills.has(node.name)) return _PLAIN;
        return _TOP;
      }
      case "BinaryExpression":
        if (node.operator === "+") {
          if (node.left.type === "PrivateIdentifier") return _TOP;
          return _plus(
            this.#eval(node.left, depth + 1),
            this.#eval(node.right, depth + 1),
          );
        }
        return _PRIM_FACTS;
      case "UnaryExpression":
        if (node.operator === "typeof") return _exactAll(_TYPEOF_NAMES);
        return _PRIM_FACTS;
      case "UpdateExpression":
        return _PRIM_FACTS;
      case "LogicalExpression":
        return _join(
          this.#eval(node.left, depth + 1),
          this.#eval(node.right, depth + 1),
        );
      case "ConditionalExpression":
        return _join(
          this.#eval(node.consequent, depth + 1),
          this.#eval(node.alternate, depth + 1),
        );
      case "SequenceExpression": {
        const last = node.expressions[node.expressions.length - 1];
        return last === undefined ? _TOP : this.#eval(last, depth + 1);
      }
      case "AssignmentExpression":
        if (node.operator === "=") return this.#eval(node.right, depth + 1);
        if (node.left.type === "Identifier") {
          const id = this.#refs.get(node.left);
          return id === undefined ? _TOP : this.#lookup(id);
        }
        return _TOP;
      case "ParenthesizedExpression":
      case "ChainExpression":
        return this.#eval(node.expression, depth + 1);
      case "ArrayExpression": {
        // A copy of skill results ([...detect("block")]) is still skill data:
        // writes into it count as mutations of skill data.
        const spreads = node.elements.length > 0 &&
          node.elements.every((e) =>
            e?.type === "SpreadElement" &&
            _onlyHost(this.#eval(e.argument, depth + 1))
          );
        return spreads && !this.#taintAll ? _HOST : _PLAIN;
      }
      case "ObjectExpression":
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        return _PLAIN;
      case "MemberExpression": {
        const object = this.#eval(node.object, depth + 1);
        if (!node.computed && node.property.type === "Identifier") {
          return this.#field(object, node.property.name);
        }
        const key = this.#eval(node.property, depth + 1);
        if (this.#taintedFields.size > 0 && !_onlyPrim(key)) return _TOP;
        return this.#element(object);
      }
      case "CallExpression":
        return this.#call(node, depth);
      default:
        return _TOP;
    }
  }

  #call(node: acorn.CallExpression, depth: number): _Facts {
    const callee = node.callee;
    if (callee.type === "Identifier") {
      const name = callee.name;
      if (this.#refs.has(callee)) return _TOP;
      if (this.#skills.has(name)) return _HOST;
      if (_NUMERIC_BUILTINS.has(name)) return _PRIM_FACTS;
      if (name === "String") {
        const arg = node.arguments[0];
        if (arg === undefined) return _exact("");
        if (arg.type === "SpreadElement") return _TOP;
        return _toText(this.#eval(arg, depth + 1));
      }
      return _TOP;
    }
    if (
      callee.type !== "MemberExpression" || callee.computed ||
      callee.property.type !== "Identifier"
    ) return _TOP;
    const method = callee.property.name;
    if (
      callee.object.type === "Identifier" &&
      !this.#refs.has(callee.object)
    ) {
      const owner = callee.object.name;
      if (owner === "Math") return _PRIM_FACTS;
      if (owner === "Object" && method === "keys") {
        const target = node.arguments[0];
        return target === undefined ? _TOP : this.#keyList(target);
      }
      if (owner === "Number" && method !== "prototype") return _PRIM_FACTS;
      if (owner === "Array" && method === "isArray") return _PRIM_FACTS;
    }
    const receiver = this.#eval(callee.object, depth + 1);
    if (_onlyKeyList(receiver) && !this.#taintKeys) {
      if (_NUMERIC_METHODS.has(method)) return _PRIM_FACTS;
      if (_SELECTORS.has(method)) return receiver;
      return _TOP;
    }
    if (receiver.top || receiver.plain) return _TOP;
    if (_NUMERIC_METHODS.has(method)) return _PRIM_FACTS;
    const hostOnly = _onlyHost(receiver) && !this.#taintAll;
    if (hostOnly && _SELECTORS.has(method)) return _HOST;
    // xs.map((x) => x.id) over skill data: the callback's results.
    const callback = node.arguments[0];
    if (
      hostOnly && method === "map" &&
      callback?.type === "ArrowFunctionExpression" && callback.expression &&
      callback.body.type !== "BlockStatement" &&
      _onlyHost(this.#eval(callback.body, depth + 1))
    ) return _HOST;
    return _TOP;
  }

  /** `value.field` (a plain property read). */
  #field(value: _Facts, field: string): _Facts {
    if (_onlyKeyList(value) && field === "length") return _PRIM_FACTS;
    if (value.top || value.plain) return _TOP;
    let out = _BOTTOM;
    if (value.prim) out = _join(out, field === "length" ? _PRIM_FACTS : _TOP);
    if (value.strs.length > 0) {
      out = _join(out, field === "length" ? _PRIM_FACTS : _TOP);
    }
    if (value.host) {
      out = _join(
        out,
        this.#taintAll || this.#taintedFields.has(field) ? _TOP : _HOST,
      );
    }
    return out;
  }

  /** An element of `value` (`value[i]`, `for (const x of value)`). */
  #element(value: _Facts): _Facts {
    if (_onlyKeyList(value) && !this.#taintKeys) return value.keyList!;
    if (value.top || value.plain || value.prim) return _TOP;
    let out = _BOTTOM;
    if (value.strs.length > 0) out = _join(out, _ANY_STRING);
    if (value.host) out = _join(out, this.#taintAll ? _TOP : _HOST);
    return out;
  }

  /** The keys `for (const k in node)` visits. */
  #forInKeys(node: _Node): _Facts {
    const facts = this.#eval(node, 0);
    if (facts.host && !facts.top && !facts.plain && !this.#taintAll) {
      return _HOST;
    }
    const list = this.#keyList(node);
    return list.keyList ?? _TOP;
  }

  /** A selection of elements of `value` (`[...rest]` of an array pattern). */
  #selection(value: _Facts): _Facts {
    return value.host && !this.#taintAll && !value.top && !value.plain
      ? _HOST
      : _TOP;
  }
}

const _TYPEOF_NAMES = [
  "undefined",
  "object",
  "boolean",
  "number",
  "bigint",
  "string",
  "symbol",
  "function",
];

/** The child nodes of `node`, in source order. */
function _children(node: _Node): _Node[] {
  const out: _Node[] = [];
  for (const key in node) {
    if (key === "loc" || key === "type") continue;
    const value = (node as unknown as Record<string, unknown>)[key];
    if (Array.isArray(value)) {
      for (const item of value) if (_isNode(item)) out.push(item);
    } else if (_isNode(value)) out.push(value);
  }
  return out;
}

function _isNode(value: unknown): value is _Node {
  return typeof value === "object" && value !== null &&
    typeof (value as { type?: unknown }).type === "string" &&
    typeof (value as { start?: unknown }).start === "number";
}

// ---- the abstract domain ----------------------------------------------------

function _exact(text: string): _Facts {
  return { ..._BOTTOM, strs: [_normalize([text])] };
}

function _exactAll(texts: readonly string[]): _Facts {
  return { ..._BOTTOM, strs: texts.map((t) => [t]) };
}

function _onlyHost(f: _Facts): boolean {
  return f.host && !f.top && !f.prim && !f.plain && f.strs.length === 0;
}

function _onlyPrim(f: _Facts): boolean {
  return f.prim && !f.top && !f.host && !f.plain && f.strs.length === 0;
}

function _join(a: _Facts, b: _Facts): _Facts {
  if (a.top || b.top) return _TOP;
  return {
    top: false,
    prim: a.prim || b.prim,
    host: a.host || b.host,
    plain: a.plain || b.plain,
    strs: _joinPatterns([...a.strs, ...b.strs]),
    keyList: (a.plain && a.keyList === undefined) ||
        (b.plain && b.keyList === undefined)
      ? undefined
      : a.keyList === undefined
      ? b.keyList
      : b.keyList === undefined
      ? a.keyList
      : _join(a.keyList, b.keyList),
  };
}

function _onlyKeyList(f: _Facts): boolean {
  return f.keyList !== undefined && !f.top && !f.host && !f.prim &&
    f.strs.length === 0;
}

/** `a + b`: string concatenation when either side may be a string, else a number. */
function _plus(a: _Facts, b: _Facts): _Facts {
  if (a.top || b.top) {
    // Concatenation with a known string is a string whatever the other side.
    if (!a.top && _onlyStrings(a)) return _concat(a, _ANY_STRING);
    if (!b.top && _onlyStrings(b)) return _concat(_ANY_STRING, b);
    return _TOP;
  }
  if (_isBottom(a) || _isBottom(b)) return _BOTTOM;
  const aText = a.strs.length > 0;
  const bText = b.strs.length > 0;
  const objects = a.host || a.plain || b.host || b.plain;
  if (!aText && !bText && !objects) return _PRIM_FACTS;
  // Some combination may concatenate; when both sides may be other than a
  // string, some may add as numbers too.
  let out = _concat(_toText(a), _toText(b));
  if (_mayBeNonString(a) && _mayBeNonString(b)) out = _join(out, _PRIM_FACTS);
  return out;
}

function _mayBeNonString(f: _Facts): boolean {
  return f.prim || f.host || f.plain;
}

function _onlyStrings(f: _Facts): boolean {
  return f.strs.length > 0 && !f.prim && !f.host && !f.plain;
}

function _isBottom(f: _Facts): boolean {
  return !f.top && !f.prim && !f.host && !f.plain && f.strs.length === 0;
}

/** The strings `String(value)` can give. */
function _toText(f: _Facts): _Facts {
  if (f.top || f.host || f.plain) return _ANY_STRING;
  const strs = [...f.strs];
  if (f.prim) strs.push([_PRIM]);
  return { ..._BOTTOM, strs: _joinPatterns(strs) };
}

function _concat(a: _Facts, b: _Facts): _Facts {
  if (a.top || b.top) return _TOP;
  const out: _Pattern[] = [];
  for (const p of a.strs) {
    for (const q of b.strs) out.push(_normalize([...p, ...q]));
  }
  return { ..._BOTTOM, strs: _joinPatterns(out) };
}

/** Merges adjacent literals, folds runs of holes, bounds the pattern's size. */
function _normalize(pattern: readonly _Segment[]): _Pattern {
  const out: _Segment[] = [];
  for (const segment of pattern) {
    if (segment === "") continue;
    const last = out[out.length - 1];
    if (typeof segment === "string" && typeof last === "string") {
      out[out.length - 1] = last + segment;
    } else if (typeof segment !== "string" && last === _ANY) continue;
    else if (segment === _ANY && last === _PRIM) out[out.length - 1] = _ANY;
    else out.push(segment);
  }
  const tooLong = out.length > _MAX_SEGMENTS ||
    out.some((s) => typeof s === "string" && s.length > _MAX_LITERAL);
  if (!tooLong) return out;
  // Keep the literal ends (shortened), forget the middle.
  const first = out[0];
  const last = out[out.length - 1];
  const head = typeof first === "string" ? first.slice(0, _MAX_LITERAL) : "";
  const tail = typeof last === "string" && out.length > 1
    ? last.slice(-_MAX_LITERAL)
    : "";
  const widened: _Segment[] = [head, _ANY, tail];
  return widened.filter((s) => s !== "");
}

/** Dedupes patterns and widens more than `_MAX_PATTERNS` into one. */
/**
 * Work done on string patterns since the analysis last charged a step: one
 * unit per pattern looked at, and one per 64 characters of it.
 */
let _patternWork = 0;

function _joinPatterns(patterns: readonly _Pattern[]): _Pattern[] {
  const seen = new Map<string, _Pattern>();
  for (const p of patterns) {
    const text = JSON.stringify(p);
    _patternWork += 1 + (text.length >> 6);
    seen.set(text, p);
  }
  const unique = [...seen.values()];
  if (unique.length <= _MAX_PATTERNS) return unique;
  // One pattern: the common literal prefix, anything, the common literal
  // suffix (never longer than the shortest pattern allows).
  const heads = unique.map((p) => typeof p[0] === "string" ? p[0] : "");
  const tails = unique.map((p) => {
    const last = p[p.length - 1];
    return typeof last === "string" ? last : "";
  });
  const prefix = _commonPrefix(heads);
  const minLength = Math.min(
    ...unique.map((p) =>
      p.reduce<number>((n, s) => n + (typeof s === "string" ? s.length : 0), 0)
    ),
  );
  let suffix = _commonSuffix(tails);
  const room = Math.max(0, minLength - prefix.length);
  if (suffix.length > room) suffix = suffix.slice(suffix.length - room);
  return [_normalize([prefix, _ANY, suffix])];
}

function _commonPrefix(texts: readonly string[]): string {
  let prefix = texts[0] ?? "";
  for (const t of texts) {
    let i = 0;
    while (i < prefix.length && i < t.length && prefix[i] === t[i]) i++;
    prefix = prefix.slice(0, i);
  }
  return prefix;
}

function _commonSuffix(texts: readonly string[]): string {
  let suffix = texts[0] ?? "";
  for (const t of texts) {
    let i = 0;
    while (
      i < suffix.length && i < t.length &&
      suffix[suffix.length - 1 - i] === t[t.length - 1 - i]
    ) i++;
    suffix = suffix.slice(suffix.length - i);
  }
  return suffix;
}

function _same(a: _Facts, b: _Facts): boolean {
  return a.top === b.top && a.prim === b.prim && a.host === b.host &&
    a.plain === b.plain && JSON.stringify(a.strs) === JSON.stringify(b.strs) &&
    (a.keyList === b.keyList ||
      (a.keyList !== undefined && b.keyList !== undefined &&
        _same(a.keyList, b.keyList)));
}

/** What `String(number | bigint | boolean | null | undefined)` can look like. */
const _PRIM_TEXT = "(?:[-+.0-9e]*|-?Infinity|NaN|true|false|null|undefined)";

/** The first forbidden name the pattern can spell, if any. */
function _forbiddenMatch(pattern: _Pattern): string | undefined {
  const source = pattern.map((s) =>
    s === _ANY
      ? "[\\s\\S]*"
      : s === _PRIM
      ? _PRIM_TEXT
      : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  ).join("");
  const regex = new RegExp(`^${source}$`);
  for (const name of _FORBIDDEN_PROPERTIES) {
    if (regex.test(name)) return name;
  }
  return undefined;
}
