import { assert, assertEquals } from "../test/_assert.ts";
import { _callLine, _clip } from "./_run_view.ts";
import { _suggest } from "./_suggest.ts";
import { _table } from "./_table.ts";

Deno.test("_clip marks a cut with an ellipsis and keeps short text", () => {
  assertEquals(_clip("abc", 5), "abc");
  assertEquals(_clip("abcdef", 5), "abcd…");
  assertEquals([..._clip("é".repeat(200))].length, 120);
});

Deno.test("a long skill result ends in an ellipsis, not mid-token", () => {
  const line = _callLine({
    seq: 1,
    skill: "detect",
    args: [],
    ok: true,
    result: Array.from({ length: 20 }, (_, i) => ({ id: `block_${i}` })),
    startMs: 0,
    durationMs: 1,
  });
  assert(line.endsWith("…"), line);
  assert(line.startsWith("  #1 detect() → ["), line);
});

Deno.test("_suggest finds near misses and nothing for strangers", () => {
  assertEquals(_suggest("stpo", ["stop", "list", "run"]), "stop");
  assertEquals(_suggest("--wrold", ["--world", "--json"]), "--world");
  assertEquals(_suggest("evid", ["evidence", "exec"]), "evidence");
  assertEquals(_suggest("frobnicate", ["stop", "list", "run"]), null);
});

Deno.test("_table columns widen to the longest cell", () => {
  const text = _table(["ID", "V"], [["a-very-long-program-id-indeed", "v1"], [
    "x",
    "v22",
  ]]);
  const [head, first, second] = text.split("\n");
  assertEquals(head!.indexOf("V"), first!.indexOf("v1"));
  assertEquals(first!.indexOf("v1"), second!.indexOf("v22"));
});
