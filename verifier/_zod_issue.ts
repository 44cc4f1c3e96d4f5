import type { z } from "zod";

/** The first issue of a zod error as a dotted field path and a readable sentence. */
export interface _ZodIssueText {
  /** e.g. `budgets.timeoutMs` or `keys[1].publicKeyJwk.x`; empty for the root. */
  field: string;
  /** e.g. `budgets.timeoutMs must be an integer, got 1.5`. */
  message: string;
}

/** Renders a zod path as `a.b[2].c`. */
export function _fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** A short, printable rendering of an untrusted value for an error message. */
export function _show(value: unknown, max = 60): string {
  let text: string;
  try {
    text = typeof value === "string"
      ? JSON.stringify(value.length > max ? value.slice(0, max) : value)
      : Array.isArray(value)
      ? "an array"
      : value === null
      ? "null"
      : typeof value === "object"
      ? "an object"
      : typeof value === "bigint" || typeof value === "number" ||
          typeof value === "boolean"
      ? String(value)
      : typeof value;
  } catch {
    text = typeof value;
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * Describes the first issue of a failed zod parse (parsed with
 * `reportInput: true`); `root` names the whole value in the sentence.
 */
export function _describeZodError(
  error: z.ZodError,
  root: string,
): _ZodIssueText {
  const issue = error.issues[0];
  if (issue === undefined) return { field: "", message: `${root} is invalid` };
  const field = _fieldPath(issue.path);
  const name = field === "" ? root : field;
  const hasInput = "input" in issue && issue.input !== undefined;
  let message: string;
  if (issue.code === "invalid_type") {
    message = hasInput
      ? `${name} must be ${_article(issue.expected)}, got ${_show(issue.input)}`
      : `${name} is missing (expected ${_article(issue.expected)})`;
  } else if (issue.code === "unrecognized_keys") {
    message = `${name} has unknown field(s) ${
      issue.keys.map((k) => _show(k)).join(", ")
    }`;
  } else {
    message = `${name}: ${issue.message}${
      hasInput ? `, got ${_show(issue.input)}` : ""
    }`;
  }
  return { field, message };
}

function _article(expected: string): string {
  if (expected === "int") return "an integer";
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
