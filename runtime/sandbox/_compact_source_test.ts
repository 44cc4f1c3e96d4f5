import { assertEquals } from "../../test/_assert.ts";
import { _compactSource } from "./_compact_source.ts";
import { guestPrelude, guestRareGuards } from "./_guest_prelude.js";

Deno.test("compacting drops comments and indentation and keeps line breaks between tokens", () => {
  const source = [
    "function f(a, b) { // sum",
    "  /* block",
    "     comment */ const c = a",
    "    + b",
    "  return c",
    "}",
  ].join("\n");
  assertEquals(
    _compactSource(source),
    "function f(a, b) {\nconst c = a\n+ b\nreturn c\n}",
  );
});

Deno.test("compacting copies strings, templates and regular expressions as they are", () => {
  const source =
    'const s = "a  // not a comment", t = `x\n  ${ 1 /* c */ + 2 }  y`;\nconst r = /  \\/\\/ x/g;';
  assertEquals(
    _compactSource(source),
    'const s = "a  // not a comment", t = `x\n  ${ 1 + 2 }  y`;\nconst r = /  \\/\\/ x/g;',
  );
});

Deno.test("compacting keeps automatic semicolon insertion where a comment held the line break", () => {
  // `a` and `b` are two statements only because of the break in the comment.
  const source = "let a = 1, b = 2; a /*\n*/ ++b";
  const compact = _compactSource(source);
  assertEquals(compact, "let a = 1, b = 2; a\n++b");
  assertEquals(
    new Function(`${compact}; return [a, b];`)(),
    new Function(`${source}; return [a, b];`)(),
  );
});

Deno.test("the compacted prelude and rare guards are smaller and still parse as the same functions", () => {
  for (const fn of [guestPrelude, guestRareGuards]) {
    const source = `(${fn.toString()})`;
    const compact = _compactSource(source);
    assertEquals(compact.includes("//"), false);
    assertEquals(compact.length < source.length * 0.8, true);
    assertEquals(typeof new Function(`return ${compact}`)(), "function");
  }
});
