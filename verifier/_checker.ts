import * as acorn from "acorn";
import * as walk from "acorn-walk";
import { ALLOWED_BUILTINS, type AllowedBuiltin } from "./allowed_builtins.ts";
import type { VerifierApi } from "./verifier_api.ts";
import type { VerifierIssue } from "./verifier_issue.ts";
import {
  _CONSTANTS,
  _ECMA_VERSION,
  _FORBIDDEN_PROPERTIES,
  _KNOWN_GLOBALS,
  _MAX_DEPTH,
  _MAX_SHOWN,
  _MEMBER_ONLY,
  _REGEXP_METHODS,
  _UNDECLARABLE,
} from "./_rules.ts";
import {
  _blockScope,
  _functionScope,
  _isDeclared,
  _patternNames,
  type _Scope,
} from "./_scope.ts";
import { _literalValue, _staticString } from "./_literal.ts";
import { _KeyFacts, type _KeyVerdict } from "./_key_facts.ts";

/**
 * The walk: visits every node of a parsed program (or check expression) with
 * its scope and reports what the rules (`_rules.ts`) refuse. Scope analysis
 * is in `_scope.ts`, literal evaluation in `_literal.ts`, the computed-key
 * proofs in `_key_facts.ts`.
 * @module
 */

/** The names of `unknown_function` issues, for `listUnknownFunctions`. */
export const _UNKNOWN_FUNCTION_NAMES: WeakMap<VerifierIssue, string> =
  new WeakMap();

const _BUILTINS: ReadonlyMap<string, AllowedBuiltin> = new Map(
  ALLOWED_BUILTINS.map((b) => [b.name, b]),
);

type _Skill = VerifierApi["skills"][number];
type _Node = acorn.AnyNode;
type _Resolved = "local" | "skill" | "builtin" | "constant" | "unknown";
type _Usage = "value" | "call" | "new" | "member";

/** Thrown inside the walker when nesting passes `_MAX_DEPTH`. */
class _TooDeep extends Error {
  constructor(readonly node: _Node) {
    super("nesting too deep");
  }
}

/** Thrown inside the walker when the work passes `_WORK_BUDGET` steps. */
class _TooComplex extends Error {
  constructor(readonly node: _Node | undefined) {
    super("too complex");
  }
}

export function _show(text: string): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length > _MAX_SHOWN ? `${flat.slice(0, _MAX_SHOWN)}…` : flat;
}

/** acorn's SyntaxError carries `pos` and `loc` besides its message. */
function _syntaxDetails(
  error: unknown,
): { message: string; line: number; column: number } | undefined {
  if (!(error instanceof SyntaxError)) return undefined;
  const loc = (error as SyntaxError & { loc?: acorn.Position }).loc;
  return {
    message: error.message.replace(/ \(\d+:\d+\)$/, ""),
    line: loc?.line ?? 1,
    column: (loc?.column ?? 0) + 1,
  };
}

/** Checks one source; `checkProgram` or `checkExpression` fills `issues`. */
export class _Checker {
  readonly #skills = new Map<string, _Skill>();
  readonly #mode: "program" | "check";
  readonly #source: string;
  readonly #issues: VerifierIssue[];
  #depth = 0;
  #steps = 0;
  readonly #maxSteps: number;
  #root: _Node | undefined;
  #lineStarts: number[] | null = null;
  #keyFacts: _KeyFacts | undefined;

  /** The steps of work done so far. */
  get steps(): number {
    return this.#steps;
  }

  constructor(
    api: VerifierApi,
    mode: "program" | "check",
    source: string,
    issues: VerifierIssue[],
    maxSteps: number,
  ) {
    this.#maxSteps = maxSteps;
    for (const skill of api.skills) this.#skills.set(skill.name, skill);
    this.#mode = mode;
    this.#source = source;
    this.#issues = issues;
  }

  // ---- entry points -------------------------------------------------------

  checkProgram(): void {
    const options: acorn.Options = {
      ecmaVersion: _ECMA_VERSION,
      sourceType: "script",
    };
    let program: acorn.Program;
    try {
      program = acorn.parse(this.#source, options);
    } catch (error) {
      // Nesting too deep for the parser's stack is too deep as a module too.
      const module = error instanceof RangeError
        ? undefined
        : this.#parseAsModule(options);
      if (module === undefined) {
        this.#reportParseError(error);
        return;
      }
      program = module;
    }
    this.#root = program;
    this.#guarded(() => {
      const scope = _functionScope(null, program.body);
      for (const statement of program.body) this.#statement(statement, scope);
    });
  }

  /**
   * The parsed program's `catch` clauses that bind their error to a name,
   * in source order (after {@linkcode checkProgram}; none if it did not
   * parse). A walk of the whole tree, not the checker's own visit: it finds
   * every clause whatever the checker refused or skipped.
   */
  catchSites(): { offset: number; name: string }[] {
    if (this.#root === undefined) return [];
    const sites: { offset: number; name: string }[] = [];
    walk.simple(this.#root, {
      CatchClause(node) {
        if (node.param?.type === "Identifier") {
          sites.push({ offset: node.body.start + 1, name: node.param.name });
        }
      },
    });
    return sites.sort((a, b) => a.offset - b.offset);
  }

  checkExpression(): void {
    const options: acorn.Options = {
      ecmaVersion: _ECMA_VERSION,
      sourceType: "script",
    };
    let expression: acorn.Expression;
    try {
      expression = acorn.parseExpressionAt(this.#source, 0, options);
    } catch (error) {
      this.#reportParseError(error);
      return;
    }
    try {
      const rest = acorn.tokenizer(this.#source.slice(expression.end), options);
      const token = rest.getToken();
      if (token.type !== acorn.tokTypes.eof) {
        this.#issueAtOffset(
          "syntax_error",
          `Cannot verify check: unexpected ${
            _show(this.#source.slice(expression.end + token.start))
          } after the expression; a check is a single expression`,
          expression.end + token.start,
        );
        return;
      }
    } catch (error) {
      const details = _syntaxDetails(error);
      const pos = (error as { pos?: number }).pos ?? 0;
      this.#issueAtOffset(
        "syntax_error",
        `Cannot verify check: ${
          details?.message ?? "unexpected text"
        } after the expression`,
        expression.end + pos,
      );
      return;
    }
    this.#root = expression;
    this.#guarded(() => {
      this.#expression(expression, { parent: null, names: new Set() });
    });
  }

  /** Runs the walk, turning runaway nesting into a `too_large` issue. */
  #guarded(walk: () => void): void {
    try {
      walk();
    } catch (error) {
      if (error instanceof _TooDeep) {
        this.#issue(
          "too_large",
          `Cannot verify program: nesting too deep (more than ${_MAX_DEPTH} levels)`,
          error.node,
        );
        return;
      }
      if (error instanceof _TooComplex) {
        const message =
          `Cannot verify program: it is too complex to check (more than ${this.#maxSteps} steps); split it into smaller functions or simplify it`;
        if (error.node === undefined) {
          this.#issues.push({
            code: "too_complex",
            message,
            line: 1,
            column: 1,
          });
        } else this.#issue("too_complex", message, error.node);
        return;
      }
      throw error;
    }
  }

  /**
   * A script that fails to parse may be a module (import/export, import.meta,
   * top-level await): parse it as one so those get `forbidden_syntax` and the
   * rest is still checked. `undefined` when it is no module either.
   */
  #parseAsModule(options: acorn.Options): acorn.Program | undefined {
    try {
      return acorn.parse(this.#source, { ...options, sourceType: "module" });
    } catch {
      return undefined;
    }
  }

  #reportParseError(error: unknown): void {
    if (error instanceof RangeError) {
      this.#issues.push({
        code: "too_large",
        message: "Cannot parse program: nesting too deep",
        line: 1,
        column: 1,
      });
      return;
    }
    const details = _syntaxDetails(error);
    if (details === undefined) throw error;
    const what = this.#mode === "check" ? "check" : "program";
    let code = "syntax_error";
    let message = `Cannot parse ${what}: ${details.message}`;
    if (/stack space/i.test(details.message)) {
      code = "too_large";
      message = `Cannot parse ${what}: nesting too deep`;
    } else if (
      /'import' and 'export'|import\.meta|sourceType: module/.test(
        details.message,
      )
    ) {
      code = "forbidden_syntax";
      message =
        `Cannot use import/export in a ${what}: it is a plain script without modules (${details.message})`;
    }
    this.#issues.push({
      code,
      message,
      line: details.line,
      column: details.column,
    });
  }

  // ---- issues -------------------------------------------------------------

  #issue(
    code: string,
    message: string,
    node: { start: number },
  ): VerifierIssue {
    const loc = this.#position(node.start);
    const issue = { code, message, line: loc.line, column: loc.column + 1 };
    this.#issues.push(issue);
    return issue;
  }

  #issueAtOffset(code: string, message: string, offset: number): void {
    const loc = this.#position(Math.min(offset, this.#source.length));
    this.#issues.push({
      code,
      message,
      line: loc.line,
      column: loc.column + 1,
    });
  }

  /**
   * Line (from 1) and column (from 0) of a source offset, as acorn counts
   * them. The parse keeps no locations (a third of its time on an accepted
   * program): each issue looks its own up in a table of line starts, built
   * on the first, so a source with thousands of issues is not rescanned for
   * each.
   */
  #position(offset: number): { line: number; column: number } {
    if (this.#lineStarts === null) {
      const starts = [0];
      const breaks = /\r\n?|[\n\u2028\u2029]/g;
      for (
        let m = breaks.exec(this.#source);
        m;
        m = breaks.exec(this.#source)
      ) {
        starts.push(m.index + m[0].length);
      }
      this.#lineStarts = starts;
    }
    const starts = this.#lineStarts;
    let low = 0, high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - starts[low]! };
  }

  #text(node: _Node): string {
    return _show(this.#source.slice(node.start, node.end));
  }

  #enter(node: _Node): void {
    if (++this.#depth > _MAX_DEPTH) throw new _TooDeep(node);
    this.#step(node);
  }

  /** Counts `weight` units of work; past the budget the check ends `too_complex`. */
  #step(node?: _Node, weight = 1): void {
    this.#steps += weight;
    if (this.#steps > this.#maxSteps) throw new _TooComplex(node);
  }

  /** The computed-key proof for `key` (the key analysis is built on first use). */
  #keyVerdict(key: _Node): _KeyVerdict {
    if (this.#root === undefined) return { safe: false, example: undefined };
    this.#keyFacts ??= new _KeyFacts(
      this.#root,
      new Set(this.#skills.keys()),
      (weight) => this.#step(key, weight),
    );
    return this.#keyFacts.verdict(key);
  }

  #leave(): void {
    this.#depth--;
  }

  // ---- scopes -------------------------------------------------------------

  #resolve(name: string, scope: _Scope | null): _Resolved {
    if (_isDeclared(name, scope)) return "local";
    if (this.#skills.has(name)) return "skill";
    if (_BUILTINS.has(name)) return "builtin";
    if (_CONSTANTS.has(name)) return "constant";
    return "unknown";
  }

  // ---- statements ---------------------------------------------------------

  #statements(body: ReadonlyArray<_Node>, scope: _Scope): void {
    for (const statement of body) this.#statement(statement, scope);
  }

  #statement(node: _Node, scope: _Scope): void {
    this.#enter(node);
    try {
      this.#statementInner(node, scope);
    } finally {
      this.#leave();
    }
  }

  #statementInner(node: _Node, scope: _Scope): void {
    switch (node.type) {
      case "ExpressionStatement":
        this.#expression(node.expression, scope);
        return;
      case "BlockStatement":
        this.#statements(node.body, _blockScope(scope, node.body));
        return;
      case "EmptyStatement":
      case "BreakStatement":
      case "ContinueStatement":
        // A label on break/continue is reported at its LabeledStatement.
        return;
      case "DebuggerStatement":
        this.#issue(
          "forbidden_syntax",
          "Cannot use debugger statements in a program",
          node,
        );
        return;
      case "WithStatement":
        this.#issue(
          "forbidden_syntax",
          "Cannot use with statements: they make names unresolvable",
          node,
        );
        this.#expression(node.object, scope);
        this.#statement(node.body, scope);
        return;
      case "ReturnStatement":
        if (node.argument) this.#expression(node.argument, scope);
        return;
      case "LabeledStatement":
        this.#issue(
          "forbidden_syntax",
          `Cannot use labeled statements: label "${_show(node.label.name)}"`,
          node,
        );
        this.#statement(node.body, scope);
        return;
      case "IfStatement":
        this.#expression(node.test, scope);
        this.#statement(node.consequent, scope);
        if (node.alternate) this.#statement(node.alternate, scope);
        return;
      case "SwitchStatement": {
        this.#expression(node.discriminant, scope);
        const inner = _blockScope(
          scope,
          node.cases.flatMap((c) => c.consequent),
        );
        for (const c of node.cases) {
          if (c.test) this.#expression(c.test, inner);
          this.#statements(c.consequent, inner);
        }
        return;
      }
      case "ThrowStatement":
        this.#expression(node.argument, scope);
        return;
      case "TryStatement":
        this.#statement(node.block, scope);
        if (node.handler) {
          const inner: _Scope = { parent: scope, names: new Set() };
          if (node.handler.param) {
            _patternNames(node.handler.param, inner.names);
            this.#pattern(node.handler.param, inner, "declare");
          }
          this.#statement(node.handler.body, inner);
        }
        if (node.finalizer) this.#statement(node.finalizer, scope);
        return;
      case "WhileStatement":
      case "DoWhileStatement":
        this.#expression(node.test, scope);
        this.#statement(node.body, scope);
        return;
      case "ForStatement": {
        const inner = node.init?.type === "VariableDeclaration"
          ? _blockScope(scope, [node.init])
          : scope;
        if (node.init) {
          if (node.init.type === "VariableDeclaration") {
            this.#statement(node.init, inner);
          } else this.#expression(node.init, inner);
        }
        if (node.test) this.#expression(node.test, inner);
        if (node.update) this.#expression(node.update, inner);
        this.#statement(node.body, inner);
        return;
      }
      case "ForInStatement":
      case "ForOfStatement": {
        if (node.type === "ForOfStatement" && node.await) {
          this.#issue(
            "forbidden_syntax",
            "Cannot use for await: programs are synchronous",
            node,
          );
        }
        const inner = node.left.type === "VariableDeclaration"
          ? _blockScope(scope, [node.left])
          : scope;
        this.#expression(node.right, scope);
        if (node.left.type === "VariableDeclaration") {
          this.#statement(node.left, inner);
        } else this.#pattern(node.left, inner, "assign");
        this.#statement(node.body, inner);
        return;
      }
      case "FunctionDeclaration":
        if (node.id) this.#binding(node.id);
        this.#function(node, scope);
        return;
      case "VariableDeclaration":
        if (
          node.kind !== "var" && node.kind !== "let" && node.kind !== "const"
        ) {
          this.#issue(
            "forbidden_syntax",
            `Cannot use "${node.kind}" declarations`,
            node,
          );
        }
        for (const declarator of node.declarations) {
          this.#pattern(declarator.id, scope, "declare");
          if (declarator.init) this.#expression(declarator.init, scope);
        }
        return;
      case "ClassDeclaration":
        this.#issue(
          "forbidden_syntax",
          `Cannot use classes: class "${node.id?.name ?? "default"}"`,
          node,
        );
        if (node.id) this.#binding(node.id);
        return;
      case "ImportDeclaration":
        this.#issue(
          "forbidden_syntax",
          `Cannot use import in a program: it is a plain script without modules`,
          node,
        );
        return;
      case "ExportNamedDeclaration":
      case "ExportDefaultDeclaration":
      case "ExportAllDeclaration":
        this.#issue(
          "forbidden_syntax",
          `Cannot use export in a program: it is a plain script without modules`,
          node,
        );
        if (
          node.type !== "ExportAllDeclaration" && node.declaration
        ) {
          const d = node.declaration;
          if (
            d.type === "FunctionDeclaration" ||
            d.type === "ClassDeclaration" || d.type === "VariableDeclaration"
          ) this.#statement(d, scope);
          else this.#expression(d, scope);
        }
        return;
      default:
        // Any other node here is an expression position the parser allowed.
        this.#expression(node, scope);
    }
  }

  // ---- functions ----------------------------------------------------------

  #function(
    node:
      | acorn.FunctionDeclaration
      | acorn.AnonymousFunctionDeclaration
      | acorn.FunctionExpression
      | acorn.ArrowFunctionExpression,
    scope: _Scope,
  ): void {
    if (node.async) {
      this.#issue(
        "forbidden_syntax",
        "Cannot use async functions: skills are synchronous, there is no await",
        node,
      );
    }
    if (node.generator) {
      this.#issue("forbidden_syntax", "Cannot use generator functions", node);
    }
    let outer = scope;
    if (node.type === "FunctionExpression" && node.id) {
      this.#binding(node.id);
      outer = { parent: scope, names: new Set([node.id.name]) };
    }
    const body = node.body.type === "BlockStatement" ? node.body.body : [];
    const inner = _functionScope(outer, body);
    for (const param of node.params) _patternNames(param, inner.names);
    for (const param of node.params) this.#pattern(param, inner, "declare");
    if (node.body.type === "BlockStatement") this.#statements(body, inner);
    else this.#expression(node.body, inner);
  }

  // ---- patterns -----------------------------------------------------------

  /** A declared name: it may not shadow a skill, a builtin or a constant. */
  #binding(id: acorn.Identifier): void {
    const name = id.name;
    let why: string | undefined;
    if (this.#skills.has(name)) why = `it would shadow the skill ${name}`;
    else if (_BUILTINS.has(name)) why = `it would shadow the builtin ${name}`;
    else if (_CONSTANTS.has(name)) why = `it would shadow ${name}`;
    else if (_UNDECLARABLE.has(name)) why = `"${_show(name)}" is reserved`;
    if (why !== undefined) {
      this.#issue(
        "forbidden_identifier",
        `Cannot declare "${_show(name)}": ${why}`,
        id,
      );
    }
  }

  /** A binding pattern (`declare`) or an assignment target (`assign`). */
  #pattern(node: _Node, scope: _Scope, mode: "declare" | "assign"): void {
    this.#enter(node);
    try {
      switch (node.type) {
        case "Identifier":
          if (mode === "declare") this.#binding(node);
          else this.#assignTarget(node, scope);
          return;
        case "MemberExpression":
          this.#member(node, scope, true);
          return;
        case "ObjectPattern":
          for (const p of node.properties) {
            if (p.type === "RestElement") {
              this.#pattern(p.argument, scope, mode);
            } else {
              this.#propertyKey(p.key, p.computed, scope);
              this.#pattern(p.value, scope, mode);
            }
          }
          return;
        case "ArrayPattern":
          for (const e of node.elements) if (e) this.#pattern(e, scope, mode);
          return;
        case "RestElement":
          this.#pattern(node.argument, scope, mode);
          return;
        case "AssignmentPattern":
          this.#pattern(node.left, scope, mode);
          this.#expression(node.right, scope);
          return;
        case "ParenthesizedExpression":
          this.#pattern(node.expression, scope, mode);
          return;
        default:
          this.#expression(node, scope);
      }
    } finally {
      this.#leave();
    }
  }

  #assignTarget(id: acorn.Identifier, scope: _Scope): void {
    const resolved = this.#resolve(id.name, scope);
    if (resolved === "local") return;
    const what = {
      skill: "it is a skill",
      builtin: "it is a builtin",
      constant: "it is a constant",
      unknown:
        "it is not declared (declare it with let, const or var; implicit globals are not allowed)",
    }[resolved];
    this.#issue(
      "forbidden_identifier",
      `Cannot assign to "${_show(id.name)}": ${what}`,
      id,
    );
  }

  // ---- expressions --------------------------------------------------------

  #expression(node: _Node, scope: _Scope): void {
    this.#enter(node);
    try {
      this.#expressionInner(node, scope);
    } finally {
      this.#leave();
    }
  }

  #expressionInner(node: _Node, scope: _Scope): void {
    switch (node.type) {
      case "Identifier":
        this.#reference(node, scope, "value");
        return;
      case "Literal":
        if (node.regex) {
          this.#issue(
            "forbidden_syntax",
            `Cannot use regular-expression literals (they cannot be interrupted): ${
              this.#text(node)
            }`,
            node,
          );
        }
        return;
      case "ThisExpression":
        this.#issue(
          "forbidden_identifier",
          'Cannot use "this": a program has no classes or methods',
          node,
        );
        return;
      case "Super":
        this.#issue("forbidden_syntax", 'Cannot use "super"', node);
        return;
      case "TemplateLiteral":
        for (const e of node.expressions) this.#expression(e, scope);
        return;
      case "TaggedTemplateExpression":
        this.#issue(
          "forbidden_syntax",
          `Cannot use tagged templates: ${this.#text(node.tag)}\`…\``,
          node,
        );
        this.#expression(node.tag, scope);
        this.#expression(node.quasi, scope);
        return;
      case "ArrayExpression":
        for (const e of node.elements) if (e) this.#expression(e, scope);
        return;
      case "ObjectExpression":
        for (const p of node.properties) {
          if (p.type === "SpreadElement") {
            this.#expression(p.argument, scope);
            continue;
          }
          if (p.kind !== "init") {
            this.#issue(
              "forbidden_syntax",
              `Cannot use ${
                p.kind === "get" ? "getters" : "setters"
              } in object literals`,
              p,
            );
          }
          this.#propertyKey(p.key, p.computed, scope);
          this.#expression(p.value, scope);
        }
        return;
      case "FunctionExpression":
      case "ArrowFunctionExpression":
        this.#function(node, scope);
        return;
      case "UnaryExpression":
        if (node.operator === "delete") {
          this.#writeTarget(node.argument, scope);
        } else this.#expression(node.argument, scope);
        return;
      case "UpdateExpression":
        this.#writeTarget(node.argument, scope);
        return;
      case "BinaryExpression":
        if (node.left.type === "PrivateIdentifier") {
          this.#issue(
            "forbidden_syntax",
            "Cannot use private names",
            node.left,
          );
        } else this.#expression(node.left, scope);
        this.#expression(node.right, scope);
        return;
      case "LogicalExpression":
        this.#expression(node.left, scope);
        this.#expression(node.right, scope);
        return;
      case "AssignmentExpression":
        this.#pattern(node.left, scope, "assign");
        this.#expression(node.right, scope);
        return;
      case "ConditionalExpression":
        this.#expression(node.test, scope);
        this.#expression(node.consequent, scope);
        this.#expression(node.alternate, scope);
        return;
      case "MemberExpression":
        this.#member(node, scope, false);
        return;
      case "CallExpression":
      case "NewExpression":
        this.#call(node, scope);
        return;
      case "SequenceExpression":
        for (const e of node.expressions) this.#expression(e, scope);
        return;
      case "SpreadElement":
        this.#expression(node.argument, scope);
        return;
      case "ChainExpression":
      case "ParenthesizedExpression":
        this.#expression(node.expression, scope);
        return;
      case "YieldExpression":
        this.#issue("forbidden_syntax", "Cannot use yield", node);
        if (node.argument) this.#expression(node.argument, scope);
        return;
      case "AwaitExpression":
        this.#issue(
          "forbidden_syntax",
          "Cannot use await: skills are synchronous",
          node,
        );
        this.#expression(node.argument, scope);
        return;
      case "ClassExpression":
        this.#issue("forbidden_syntax", "Cannot use classes", node);
        return;
      case "MetaProperty":
        this.#issue(
          "forbidden_syntax",
          `Cannot use ${node.meta.name}.${node.property.name}`,
          node,
        );
        return;
      case "ImportExpression":
        this.#issue(
          "forbidden_syntax",
          "Cannot use import(): a program loads no modules",
          node,
        );
        this.#expression(node.source, scope);
        return;
      default:
        this.#issue(
          "forbidden_syntax",
          `Cannot use ${node.type} here: ${this.#text(node)}`,
          node,
        );
    }
  }

  /** An identifier read as a value, called, constructed or used as `X.member`. */
  #reference(id: acorn.Identifier, scope: _Scope, usage: _Usage): _Resolved {
    const name = id.name;
    const resolved = this.#resolve(name, scope);
    switch (resolved) {
      case "local":
      case "constant":
        return resolved;
      case "skill": {
        const skill = this.#skills.get(name);
        if (this.#mode === "check" && skill?.kind !== "query") {
          const queries = [...this.#skills.values()].filter((s) =>
            s.kind === "query"
          ).map((s) => s.name).join(", ");
          this.#issue(
            "forbidden_identifier",
            `Cannot use the action skill "${
              _show(name)
            }" in a check: only query skills (${queries}) are allowed`,
            id,
          );
        } else if (usage === "new") {
          this.#issue(
            "forbidden_syntax",
            `Cannot construct the skill "${_show(name)}" with new: call it`,
            id,
          );
        }
        return resolved;
      }
      case "builtin":
        if (_MEMBER_ONLY.has(name) && usage !== "member") {
          this.#issue(
            "forbidden_identifier",
            `Cannot use "${_show(name)}" ${
              usage === "value" ? "as a value" : "as a function"
            }: use it only as ${name}.<member> (${
              (_BUILTINS.get(name)?.members ?? []).join(", ")
            })`,
            id,
          );
        }
        return resolved;
      case "unknown":
        if (name === "await" || name === "yield") {
          this.#issue("forbidden_syntax", `Cannot use ${name}`, id);
        } else if (
          (usage === "call" || usage === "new") && !_KNOWN_GLOBALS.has(name)
        ) {
          const issue = this.#issue(
            "unknown_function",
            `unknown function "${
              _show(name)
            }": it is not a skill, an allowed builtin or a function the program declares`,
            id,
          );
          _UNKNOWN_FUNCTION_NAMES.set(issue, name);
        } else {
          this.#issue(
            "forbidden_identifier",
            `Cannot use "${
              _show(name)
            }": it is not a skill, an allowed builtin or a name the program declares`,
            id,
          );
        }
        return resolved;
    }
  }

  /** The target of `delete`, `++`/`--`: a declared name or a member not on a builtin. */
  #writeTarget(node: _Node, scope: _Scope): void {
    if (node.type === "Identifier") this.#assignTarget(node, scope);
    else if (node.type === "MemberExpression") this.#member(node, scope, true);
    else if (node.type === "ChainExpression") {
      this.#writeTarget(node.expression, scope);
    } else this.#expression(node, scope);
  }

  #member(
    node: acorn.MemberExpression,
    scope: _Scope,
    write: boolean,
  ): void {
    let builtin: AllowedBuiltin | undefined;
    const object = node.object;
    if (object.type === "Super") {
      this.#issue("forbidden_syntax", 'Cannot use "super"', object);
    } else if (object.type === "Identifier") {
      if (this.#reference(object, scope, "member") === "builtin") {
        builtin = _BUILTINS.get(object.name);
      }
    } else this.#expression(object, scope);

    const property = node.property;
    let name: string | undefined;
    if (property.type === "PrivateIdentifier") {
      this.#issue("forbidden_syntax", "Cannot use private names", property);
      return;
    }
    if (!node.computed && property.type === "Identifier") name = property.name;
    else {
      name = _staticString(property);
      if (name === undefined) {
        this.#expression(property, scope);
        if (!this.#safeComputedKey(property, "property")) return;
      }
    }
    if (name !== undefined && _FORBIDDEN_PROPERTIES.has(name)) {
      this.#issue(
        "forbidden_property",
        `Cannot access the property "${
          _show(name)
        }": it reaches prototypes, constructors or the call stack`,
        property,
      );
      return;
    }
    if (name !== undefined && _REGEXP_METHODS.has(name)) {
      this.#issue(
        "forbidden_property",
        `Cannot use the method "${
          _show(name)
        }": it needs regular expressions, which the sandbox does not have; use includes, indexOf, split or startsWith`,
        property,
      );
      return;
    }
    if (builtin !== undefined) {
      const members = builtin.members ?? [];
      if (name === undefined || !members.includes(name)) {
        this.#issue(
          "forbidden_property",
          `Cannot use ${builtin.name}.${
            name !== undefined ? _show(name) : `[${this.#text(property)}]`
          }: ${
            members.length > 0
              ? `allowed members of ${builtin.name} are ${members.join(", ")}`
              : `${builtin.name} has no allowed members`
          }`,
          property,
        );
        return;
      }
    }
    if (write) {
      const root = _memberRoot(node);
      if (root.type === "Identifier") {
        const resolved = this.#resolve(root.name, scope);
        if (resolved === "builtin" || resolved === "skill") {
          this.#issue(
            "forbidden_property",
            `Cannot modify ${this.#text(node)}: ${resolved}s are read-only`,
            node,
          );
        }
      }
    }
  }

  /** Reports a computed key the verifier cannot prove safe; `true` when it is safe. */
  #safeComputedKey(key: _Node, what: "property" | "key"): boolean {
    const verdict = this.#keyVerdict(key);
    if (verdict.safe) return true;
    this.#issue(
      "forbidden_property",
      `Cannot use the computed ${what} [${this.#text(key)}]: ${
        verdict.example === undefined
          ? "the verifier cannot prove it names no dangerous property"
          : `it can be "${verdict.example}", which reaches prototypes, constructors or the call stack`
      }; use a number, a string with a literal prefix or suffix ("blue_" + c, \`\${c}_block\`), a skill result's field or a const of those`,
      key,
    );
    return false;
  }

  /** An object-literal or destructuring key. */
  #propertyKey(key: _Node, computed: boolean, scope: _Scope): void {
    let name: string | undefined;
    if (!computed && key.type === "Identifier") name = key.name;
    else if (!computed && key.type === "Literal") name = String(key.value);
    else {
      name = _staticString(key);
      if (name === undefined) {
        this.#expression(key, scope);
        this.#safeComputedKey(key, "key");
        return;
      }
    }
    if (_FORBIDDEN_PROPERTIES.has(name)) {
      this.#issue(
        "forbidden_property",
        `Cannot use the property name "${
          _show(name)
        }": it reaches prototypes, constructors or the call stack`,
        key,
      );
    }
  }

  #call(node: acorn.CallExpression | acorn.NewExpression, scope: _Scope): void {
    const callee = node.callee;
    let skill: _Skill | undefined;
    if (callee.type === "Identifier") {
      const usage = node.type === "NewExpression" ? "new" : "call";
      if (this.#reference(callee, scope, usage) === "skill") {
        skill = this.#skills.get(callee.name);
      }
    } else if (callee.type === "Super") {
      this.#issue("forbidden_syntax", 'Cannot use "super"', callee);
    } else this.#expression(callee, scope);
    for (const arg of node.arguments) this.#expression(arg, scope);
    if (skill !== undefined && node.type === "CallExpression") {
      this.#skillCall(skill, node, scope);
    }
    if (
      callee.type === "MemberExpression" && !callee.computed &&
      callee.object.type === "Identifier" && callee.object.name === "Object" &&
      callee.property.type === "Identifier" &&
      callee.property.name === "assign" &&
      this.#resolve("Object", scope) === "builtin"
    ) {
      const target = node.arguments[0];
      if (target?.type === "Identifier") {
        const resolved = this.#resolve(target.name, scope);
        if (resolved === "builtin" || resolved === "skill") {
          this.#issue(
            "forbidden_property",
            `Cannot modify "${
              _show(target.name)
            }" with Object.assign: ${resolved}s are read-only`,
            target,
          );
        }
      }
    }
  }

  #skillCall(skill: _Skill, node: acorn.CallExpression, scope: _Scope): void {
    const params = skill.params;
    let required = 0;
    params.forEach((p, i) => {
      if (!p.optional) required = i + 1;
    });
    const args = node.arguments;
    const spreadAt = args.findIndex((a) => a.type === "SpreadElement");
    if (
      spreadAt < 0 && (args.length < required || args.length > params.length)
    ) {
      const want = required === params.length
        ? `${required}`
        : `${required} to ${params.length}`;
      const names = params.map((p) => p.optional ? `${p.name}?` : p.name)
        .join(", ");
      this.#issue(
        "bad_arity",
        `Cannot call ${skill.name}: it takes ${want} argument(s) (${names}), got ${args.length}`,
        node,
      );
    }
    const checked = Math.min(
      spreadAt < 0 ? args.length : spreadAt,
      params.length,
    );
    for (let i = 0; i < checked; i++) {
      const arg = args[i];
      const param = params[i];
      if (arg === undefined || param === undefined) continue;
      const literal = _literalValue(
        arg,
        (name) => this.#resolve(name, scope) === "constant",
        0,
      );
      if (literal === undefined) continue;
      if (literal.value === undefined && param.optional) continue;
      const result = param.schema.safeParse(literal.value);
      if (result.success) continue;
      const why = _issuesText(result.error?.issues ?? [], [], 0) ||
        "rejected by the schema";
      this.#issue(
        "bad_argument",
        `Cannot call ${skill.name}: argument "${param.name}" is invalid (${why}), got ${
          this.#text(arg)
        }`,
        arg,
      );
    }
  }
}

type _SchemaIssue = {
  message: string;
  path: ReadonlyArray<PropertyKey>;
};

/**
 * zod's issues as one line: `path: message`, joined by "; ". A union's
 * issue (zod 4 `invalid_union`) carries each alternative's issues in
 * `errors`; they are listed, joined by " | ", so the reason is not just
 * "Invalid input".
 */
function _issuesText(
  issues: ReadonlyArray<_SchemaIssue>,
  prefix: ReadonlyArray<PropertyKey>,
  depth: number,
): string {
  return issues.map((issue) => {
    const path = [...prefix, ...issue.path];
    const at = path.length > 0 ? `${path.map(String).join(".")}: ` : "";
    const branches = (issue as { errors?: unknown }).errors;
    if (depth < 3 && Array.isArray(branches) && branches.length > 0) {
      const alternatives = branches.map((b) =>
        Array.isArray(b)
          ? _issuesText(b as _SchemaIssue[], path, depth + 1)
          : ""
      ).filter((t) => t !== "");
      if (alternatives.length > 0) {
        return `${at}no alternative matches (${alternatives.join(" | ")})`;
      }
    }
    return at + issue.message;
  }).join("; ");
}

/** The innermost object of a member chain: `a.b.c` → `a`, `f().x` → `f()`. */
function _memberRoot(node: acorn.MemberExpression): _Node {
  let current: _Node = node;
  while (current.type === "MemberExpression") current = current.object;
  return current;
}
