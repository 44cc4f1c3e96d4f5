import { z } from "zod";
import { assert, assertEquals, assertStringIncludes } from "./_assert.ts";
import { renderDeclarations } from "./render_declarations.ts";
import { type SkillApi, TABLETOP_API } from "./skill_api.ts";

Deno.test("renderDeclarations declares every tabletop skill", () => {
  const text = renderDeclarations(TABLETOP_API);
  for (
    const line of [
      "declare function detect(query?: string): Obj[];",
      "declare function pick(id: string): void;",
      "declare function place(target: string | Point): void;",
      "declare function holding(): string | null;",
      "declare function workspace(): Workspace;",
      "declare function wait(seconds: number): void;",
      "declare function say(text: string): void;",
    ]
  ) assertStringIncludes(text, line);
  for (const skill of TABLETOP_API.skills) {
    assertStringIncludes(text, `declare function ${skill.name}(`);
    assertStringIncludes(text, skill.doc);
  }
  assertStringIncludes(
    text,
    "interface Obj {\n  id: string;\n  kind: string;\n  color: string;\n  x: number;\n  y: number;\n  z: number;\n  on: string | null;\n}",
  );
  assertStringIncludes(
    text,
    "interface Point {\n  x: number;\n  y: number;\n}",
  );
  assertStringIncludes(text, "interface Workspace {\n  xMin: number;");
  assertStringIncludes(
    text,
    "@param seconds how long to wait (0 < seconds <= 60)",
  );
  assertStringIncludes(text, '"grasp_failed"');
  assertStringIncludes(text, "Skill API tabletop/1");
});

Deno.test("renderDeclarations output type-checks and rejects misuse", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/api.d.ts`,
      renderDeclarations(TABLETOP_API),
    );
    const program = (body: string) =>
      `/// <reference path="./api.d.ts" />\n${body}\nexport {};\n`;
    await Deno.writeTextFile(
      `${dir}/good.ts`,
      program(`
const blocks: Obj[] = detect("red block");
const all: Obj[] = detect();
const first = blocks[0];
if (first !== undefined && first.on === null) pick(first.id);
try {
  place({ x: 0, y: -0.5 });
} catch (e) {
  const error = e as SkillError;
  if (error.code === "grasp_failed") say("slipped");
}
place("blue_bowl");
const held: string | null = holding();
const ws: Workspace = workspace();
wait(ws.xMax - ws.xMin);
say(String(all.length) + String(held));
`),
    );
    await Deno.writeTextFile(
      `${dir}/bad.ts`,
      program(`pick(1);\nconst n: number = holding();\nplace({ x: 0 });\n`),
    );
    // One type-check run for both files (starting the checker is slow).
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--no-config", "--quiet", "good.ts", "bad.ts"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stderr) +
      new TextDecoder().decode(output.stdout);
    assertEquals(output.success, false);
    assert(!text.includes("good.ts"), `good.ts should type-check:\n${text}`);
    assertStringIncludes(text, "bad.ts");
    assertStringIncludes(text, "TS2345"); // pick(1)
    assertStringIncludes(text, "TS2322"); // number = string | null
    assertStringIncludes(text, "'y'"); // place({ x: 0 }) lacks y
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("renderDeclarations renders other JSON Schema shapes", () => {
  const Pose = z.strictObject({ x: z.number(), theta: z.number().optional() });
  const api: SkillApi = {
    version: "test/1",
    skills: [{
      name: "plan",
      kind: "action",
      doc: "Plans.",
      params: [
        {
          name: "mode",
          schema: z.enum(["fast", "safe"]),
          optional: false,
          doc: "",
        },
        {
          name: "steps",
          schema: z.array(z.union([z.string(), z.number()])),
          optional: false,
          doc: "the steps",
        },
        {
          name: "count",
          schema: z.number().int().min(1).max(9),
          optional: true,
          doc: "how many",
        },
      ],
      result: z.strictObject({
        "pose-list": z.array(Pose),
        ok: z.boolean(),
        tags: z.record(z.string(), z.string()),
        pair: z.tuple([z.string(), z.literal(3)]),
      }),
    }],
  };
  const text = renderDeclarations(api, {
    types: [{ name: "Pose", schema: Pose }],
  });
  assertStringIncludes(
    text,
    'declare function plan(mode: "fast" | "safe", steps: (string | number)[], count?: number): {\n  "pose-list": Pose[];\n  ok: boolean;\n  tags: Record<string, string>;\n  pair: [string, 3];\n};',
  );
  assertStringIncludes(
    text,
    "interface Pose {\n  x: number;\n  theta?: number;\n}",
  );
  assertStringIncludes(
    text,
    "@param count how many (1 <= count <= 9, an integer)",
  );
  assert(!text.includes("interface Obj"), "unused named types are left out");
});
