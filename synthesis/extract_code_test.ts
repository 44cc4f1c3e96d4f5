import {
  deepStrictEqual as assertEquals,
  match as assertMatch,
  ok as assert,
} from "node:assert/strict";
import { extractCode } from "./extract_code.ts";
import { SynthesisError } from "./synthesis_error.ts";

function failure(answer: string): SynthesisError {
  try {
    extractCode(answer);
  } catch (error) {
    assert(error instanceof SynthesisError);
    return error;
  }
  throw new Error("expected extractCode to throw");
}

Deno.test("extractCode() takes ```js, ```javascript and bare fences", () => {
  assertEquals(extractCode("a\n```js\nsay('a');\n```\nb"), "say('a');");
  assertEquals(extractCode("```javascript\nsay('b');\n```"), "say('b');");
  assertEquals(extractCode("```\nsay('c');\n```"), "say('c');");
  assertEquals(extractCode("```JS title\r\nsay('d');\n```"), "say('d');");
});

Deno.test("extractCode() prefers the longest code block and skips other languages", () => {
  const answer =
    '```json\n{"a": 1, "b": 2, "c": 3}\n```\n```js\nf();\n```\n```js\nfunction f() {}\nf();\n```';
  assertEquals(extractCode(answer), "function f() {}\nf();");
});

Deno.test("extractCode() refuses answers without a program", () => {
  assertEquals(failure("").code, "malformed_answer");
  assertMatch(failure("  \n").message, /the answer is empty/);
  assertMatch(
    failure("Sorry, I can't.").message,
    /no ```js code block, got "Sorry, I can't\."/,
  );
  assertMatch(
    failure("```python\nprint(1)\n```").message,
    /no ```js code block/,
  );
  assertMatch(failure("```js\n\n```").message, /no ```js code block/);
});
