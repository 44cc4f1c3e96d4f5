import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { TABLETOP_API } from "../skills-bridge/mod.ts";
import { type VerifierApi, verifyProgram } from "../verifier/mod.ts";

// Compile-time contract: the skill API fits the verifier's structural type,
// so `verifier/` never has to import `skills-bridge/`.
const api: VerifierApi = TABLETOP_API;

Deno.test("TABLETOP_API is a VerifierApi and its schemas drive bad_argument", () => {
  assertEquals(
    api.skills.map((s) => [s.name, s.kind, s.params.length]),
    [
      ["detect", "query", 1],
      ["pick", "action", 1],
      ["place", "action", 1],
      ["holding", "query", 0],
      ["workspace", "query", 0],
      ["wait", "action", 1],
      ["say", "action", 1],
    ],
  );
  const report = verifyProgram(
    'detect("red block");\npick("red_block");\nplace({ x: 0.1, y: -0.5 });\nplace({ x: "0.1", y: -0.5 });\nwait(61);\nsay("done");',
    { api },
  );
  assertEquals(
    report.issues.map((i) => `${i.code}@${i.line}:${i.column}`),
    ["bad_argument@4:7", "bad_argument@5:6"],
  );
});
