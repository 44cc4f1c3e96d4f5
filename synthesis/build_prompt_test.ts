import {
  deepStrictEqual as assertEquals,
  match as assertMatch,
  ok as assert,
} from "node:assert/strict";
import { parseScene, TABLETOP_API } from "../skills-bridge/mod.ts";
import { ALLOWED_BUILTINS, verifyProgram } from "../verifier/mod.ts";
import { _EXAMPLES } from "./_examples.ts";
import { buildPrompt } from "./build_prompt.ts";
import { buildRepairMessage } from "./build_repair_message.ts";

const scene = parseScene({
  objects: [
    { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
    { id: "green_block", kind: "block", color: "green", on: "red_block" },
  ],
});

Deno.test("buildPrompt() renders the API, builtins, rules, examples, scene, checks and instruction", () => {
  const [system, user] = buildPrompt("stack things", {
    scene,
    checks: ["holding() === null"],
  });
  assertEquals(system?.role, "system");
  const text = system?.content ?? "";
  for (const skill of TABLETOP_API.skills) {
    assertMatch(text, new RegExp(`declare function ${skill.name}\\(`));
  }
  for (const builtin of ALLOWED_BUILTINS) {
    assert(text.includes(`- ${builtin.name}`));
  }
  assertMatch(text, /Not allowed: import\/export/);
  assertMatch(text, /\/\/ instruction: put the green block in the red bowl\./);
  assertEquals(
    user?.content,
    [
      "Workspace (table bounds, metres): x -0.30..0.30, y -0.80..-0.20.",
      "Detected objects (2):",
      "- red_block: red block at x=0.10, y=-0.50, on the table",
      "- green_block: green block at x=0.10, y=-0.50, on/in red_block",
      "",
      "When the program ends, these JavaScript expressions (over detect, holding and workspace) must all be true:",
      "- holding() === null",
      "",
      "Instruction: stack things",
    ].join("\n"),
  );
});

Deno.test("the prompt's examples, joined as one program, pass the verifier", () => {
  const report = verifyProgram(_EXAMPLES.join("\n"), { api: TABLETOP_API });
  assertEquals(report.issues, []);
});

Deno.test("buildRepairMessage() lists every verifier issue", () => {
  const text = buildRepairMessage({
    kind: "verifier",
    report: {
      ok: false,
      issues: [
        {
          code: "forbidden_identifier",
          message: '"Date" is not allowed',
          line: 2,
          column: 5,
        },
        {
          code: "unknown_function",
          message: 'unknown function "f"',
          line: 3,
          column: 1,
        },
      ],
    },
  });
  assertMatch(text, /refused the program \(2 issue\(s\)\)/);
  assertMatch(text, /- line 2:5 forbidden_identifier: "Date" is not allowed/);
  assertMatch(text, /- line 3:1 unknown_function: unknown function "f"/);
  assertMatch(text, /whole corrected program in one ```js code block/);
});
