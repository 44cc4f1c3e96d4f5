import type * as acorn from "acorn";

/** A lexical scope: the names declared in it, and its parent. */
export interface _Scope {
  readonly parent: _Scope | null;
  readonly names: Set<string>;
}

type _Node = acorn.AnyNode;

/** A function (or program) scope holding its hoisted `var`s and its body's lexical names. */
export function _functionScope(
  parent: _Scope | null,
  body: ReadonlyArray<_Node>,
): _Scope {
  const scope: _Scope = { parent, names: new Set() };
  for (const statement of body) _collectVarNames(statement, scope.names);
  _collectLexicalNames(body, scope.names);
  return scope;
}

/** A block scope holding the lexical names declared directly in `body`. */
export function _blockScope(
  parent: _Scope,
  body: ReadonlyArray<_Node>,
): _Scope {
  const scope: _Scope = { parent, names: new Set() };
  _collectLexicalNames(body, scope.names);
  return scope;
}

/** Whether `name` is declared in `scope` or one of its parents. */
export function _isDeclared(name: string, scope: _Scope | null): boolean {
  for (let s = scope; s !== null; s = s.parent) {
    if (s.names.has(name)) return true;
  }
  return false;
}

/** Adds the names a pattern binds. */
export function _patternNames(node: _Node, out: Set<string>): void {
  switch (node.type) {
    case "Identifier":
      out.add(node.name);
      return;
    case "ObjectPattern":
      for (const p of node.properties) {
        _patternNames(p.type === "RestElement" ? p.argument : p.value, out);
      }
      return;
    case "ArrayPattern":
      for (const e of node.elements) if (e) _patternNames(e, out);
      return;
    case "RestElement":
      _patternNames(node.argument, out);
      return;
    case "AssignmentPattern":
      _patternNames(node.left, out);
      return;
    default:
      return;
  }
}

/** Adds the `var` names a statement hoists to its function (not into nested functions). */
export function _collectVarNames(
  node: _Node | null | undefined,
  out: Set<string>,
): void {
  if (!node) return;
  switch (node.type) {
    case "VariableDeclaration":
      if (node.kind === "var") {
        for (const d of node.declarations) _patternNames(d.id, out);
      }
      return;
    case "BlockStatement":
      for (const s of node.body) _collectVarNames(s, out);
      return;
    case "IfStatement":
      _collectVarNames(node.consequent, out);
      _collectVarNames(node.alternate, out);
      return;
    case "ForStatement":
      if (node.init?.type === "VariableDeclaration") {
        _collectVarNames(node.init, out);
      }
      _collectVarNames(node.body, out);
      return;
    case "ForInStatement":
    case "ForOfStatement":
      if (node.left.type === "VariableDeclaration") {
        _collectVarNames(node.left, out);
      }
      _collectVarNames(node.body, out);
      return;
    case "WhileStatement":
    case "DoWhileStatement":
    case "LabeledStatement":
    case "WithStatement":
      _collectVarNames(node.body, out);
      return;
    case "TryStatement":
      _collectVarNames(node.block, out);
      _collectVarNames(node.handler?.body, out);
      _collectVarNames(node.finalizer, out);
      return;
    case "SwitchStatement":
      for (const c of node.cases) {
        for (const s of c.consequent) _collectVarNames(s, out);
      }
      return;
    case "ExportNamedDeclaration":
      _collectVarNames(node.declaration, out);
      return;
    default:
      return;
  }
}

/** Adds the let/const/function/class (and import) names declared directly in `body`. */
export function _collectLexicalNames(
  body: ReadonlyArray<_Node>,
  out: Set<string>,
): void {
  for (const node of body) {
    let d: _Node | null | undefined = node;
    if (
      node.type === "ExportNamedDeclaration" ||
      node.type === "ExportDefaultDeclaration"
    ) d = node.declaration;
    if (!d) continue;
    if (d.type === "VariableDeclaration" && d.kind !== "var") {
      for (const v of d.declarations) _patternNames(v.id, out);
    } else if (
      (d.type === "FunctionDeclaration" || d.type === "ClassDeclaration") &&
      d.id
    ) out.add(d.id.name);
    else if (d.type === "ImportDeclaration") {
      for (const s of d.specifiers) out.add(s.local.name);
    }
  }
}
