import { SynthesisError } from "./synthesis_error.ts";

const FENCE = /```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n([\s\S]*?)```/g;
const CODE_LANGS = new Set(["", "js", "javascript", "mjs", "ts", "typescript"]);
const MAX_SHOWN = 120;

/**
 * Extracts the program from a model's answer: the fenced code blocks marked
 * `js`, `javascript` or bare (the longest wins when there are several),
 * else throws a {@linkcode SynthesisError} with code `malformed_answer`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { extractCode } from "./extract_code.ts";
 * const fence = "`".repeat(3);
 * equal(extractCode(`Here:\n${fence}js\nsay("hi");\n${fence}`), 'say("hi");');
 * ```
 */
export function extractCode(answer: string): string {
  if (answer.trim() === "") {
    throw new SynthesisError(
      "malformed_answer",
      "Cannot extract a program from the model's answer: the answer is empty",
    );
  }
  const blocks: string[] = [];
  for (const match of answer.matchAll(FENCE)) {
    const lang = (match[1] ?? "").toLowerCase();
    const body = (match[2] ?? "").trim();
    if (CODE_LANGS.has(lang) && body !== "") blocks.push(body);
  }
  if (blocks.length === 0) {
    const shown = answer.length > MAX_SHOWN
      ? `${answer.slice(0, MAX_SHOWN)}…`
      : answer;
    throw new SynthesisError(
      "malformed_answer",
      `Cannot extract a program from the model's answer: it holds no \`\`\`js code block, got ${
        JSON.stringify(shown)
      }`,
    );
  }
  return blocks.reduce((a, b) => (b.length > a.length ? b : a));
}
