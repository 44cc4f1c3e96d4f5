/**
 * Code-as-Policies style tasks run end to end (verifier → QuickJS sandbox →
 * simulator), each proven by postconditions rather than by the absence of an
 * error; plus the example programs against the example scenes.
 * @module
 */
import {
  deepStrictEqual as assertEquals,
  ok as assert,
} from "node:assert/strict";
import { parseScene, type Scene } from "../skills-bridge/mod.ts";
import { type EvidenceRecord } from "../runtime/evidence/mod.ts";
import { runLocal } from "../runtime/executor/mod.ts";

const EXAMPLES = new URL("../examples/", import.meta.url);

async function exampleScene(name: string): Promise<Scene> {
  const text = await Deno.readTextFile(new URL(name, EXAMPLES));
  return parseScene(JSON.parse(text), { source: name });
}

function exampleProgram(name: string): Promise<string> {
  return Deno.readTextFile(new URL(name, EXAMPLES));
}

/** Every block in one tower: all but one rest on another block. */
const ONE_TOWER =
  'detect("block").filter((b) => detect("block").some((o) => o.id === b.on)).length === detect("block").length - 1';
/** Every block is in the bowl of its color, or on the table when there is none. */
const SORTED =
  'detect("block").every((b) => (detect(b.color + " bowl")[0]?.id ?? null) === b.on)';
const NOTHING_HELD = "holding() === null";

function assertSucceeded(evidence: EvidenceRecord): void {
  assertEquals(
    evidence.outcome,
    "succeeded",
    `${evidence.failure?.label}: ${evidence.failure?.message}`,
  );
  assert(evidence.checks.length > 0, "a task must be proven by checks");
  assert(evidence.checks.every((c) => c.ok), JSON.stringify(evidence.checks));
}

Deno.test("examples/stack_blocks.js stacks the tabletop's loose blocks", async () => {
  const evidence = await runLocal(await exampleProgram("stack_blocks.js"), {
    scene: await exampleScene("tabletop.json"),
    instruction: "stack all the blocks",
    checks: [ONE_TOWER, NOTHING_HELD, 'detect("block").length === 4'],
  });
  assertSucceeded(evidence);
  // The tower stands where the first block was: nothing else moved under it.
  const base = evidence.worldAfter?.objects.find((o) => o.id === "red_block");
  assertEquals([base?.x, base?.y, base?.on], [0.1, -0.5, null]);
});

Deno.test("examples/stack_blocks.js finishes a half-built stack and empties a bowl", async () => {
  const evidence = await runLocal(await exampleProgram("stack_blocks.js"), {
    scene: await exampleScene("stack.json"),
    instruction: "stack all the blocks",
    checks: [
      ONE_TOWER,
      NOTHING_HELD,
      // The existing tower red ← green ← blue was kept and built on.
      'detect("green block")[0].on === "red_block" && detect("blue block")[0].on === "green_block"',
      'detect("pink block")[0].on !== "white_bowl"',
    ],
  });
  assertSucceeded(evidence);
  // Only the two loose blocks were moved.
  assertEquals(
    evidence.calls.filter((c) => c.skill === "pick").map((c) => c.args[0]),
    ["yellow_block", "pink_block"],
  );
});

Deno.test("examples/sort_into_bowls.js sorts blocks into the bowls of their color", async () => {
  const evidence = await runLocal(await exampleProgram("sort_into_bowls.js"), {
    scene: await exampleScene("tabletop.json"),
    instruction: "put each block in the bowl of its color",
    checks: [
      SORTED,
      NOTHING_HELD,
      'detect("blue block")[0].on === "blue_bowl"',
      'detect("green block")[0].on === "green_bowl"',
    ],
  });
  assertSucceeded(evidence);
});

Deno.test("sorting fails its postcondition when the program skips a block", async () => {
  // The checks are what prove a task: a plausible but wrong program fails them.
  const evidence = await runLocal(
    'const b = detect("blue block")[0];\npick(b.id);\nplace("blue_bowl");',
    { scene: await exampleScene("tabletop.json"), checks: [SORTED] },
  );
  assertEquals(evidence.outcome, "failed");
  assertEquals(evidence.failure?.label, "postcondition_failed");
  assertEquals(evidence.checks.map((c) => c.ok), [false]);
});

const LEFT_OF_BOWL = `// Put the red block 10 cm left of the blue bowl.
const bowl = detect("blue bowl")[0];
const block = detect("red block")[0];
if (bowl === undefined || block === undefined) throw new Error("cannot see the bowl or the block");
pick(block.id);
place({ x: bowl.x - 0.1, y: bowl.y });`;

const TEN_CM_LEFT = [
  'Math.abs(detect("red block")[0].x - (detect("blue bowl")[0].x - 0.1)) < 0.005',
  'Math.abs(detect("red block")[0].y - detect("blue bowl")[0].y) < 0.005',
  'detect("red block")[0].on === null',
];

Deno.test("spatial placement: the red block ends 10 cm left of the blue bowl", async () => {
  const evidence = await runLocal(LEFT_OF_BOWL, {
    scene: await exampleScene("tabletop.json"),
    instruction: "put the red block 10 cm left of the blue bowl",
    checks: [...TEN_CM_LEFT, NOTHING_HELD],
  });
  assertSucceeded(evidence);
  const block = evidence.worldAfter?.objects.find((o) => o.id === "red_block");
  assert(Math.abs((block?.x ?? 0) - -0.2) < 1e-9, JSON.stringify(block));
  assert(Math.abs((block?.y ?? 0) - -0.4) < 1e-9, JSON.stringify(block));
});

Deno.test("spatial placement: right instead of left fails the check", async () => {
  const evidence = await runLocal(
    LEFT_OF_BOWL.replace("bowl.x - 0.1", "bowl.x + 0.1"),
    { scene: await exampleScene("tabletop.json"), checks: TEN_CM_LEFT },
  );
  assertEquals(evidence.failure?.label, "postcondition_failed");
  assertEquals(evidence.checks.map((c) => c.ok), [false, true, true]);
});

Deno.test("a retry loop re-detects after each slipped grasp until the pick holds", async () => {
  const scene = parseScene({
    seed: 3,
    objects: [
      { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
      { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
    ],
    faults: { graspFailureRate: 0.5, detectionMissRate: 0.3 },
  });
  const source =
    `// Put the red block in the blue bowl; look again after every slip or miss.
function pickFresh(query) {
  for (let tries = 0; tries < 30; tries++) {
    const seen = detect(query);
    if (seen.length === 0) continue;
    try {
      pick(seen[0].id);
      return seen[0].id;
    } catch (e) {
      if (e.code !== "grasp_failed") throw e;
      say("slipped on " + seen[0].id + ", looking again");
    }
  }
  throw new Error("gave up on " + query);
}
pickFresh("red block");
place("blue_bowl");`;
  const checks = ['detect("red block")[0].on === "blue_bowl"', NOTHING_HELD];
  const evidence = await runLocal(source, { scene, checks });
  // A detection may miss in a check too; the seed makes this run's draws fixed.
  assertSucceeded(evidence);
  const picks = evidence.calls.filter((c) => c.skill === "pick");
  assert(
    picks.some((c) => c.error?.code === "grasp_failed"),
    "the seed should make at least one grasp slip",
  );
  assertEquals(picks.at(-1)?.ok, true);
  // Every pick came right after a fresh detect.
  for (const pick of picks) {
    assertEquals(evidence.calls[pick.seq - 2]?.skill, "detect");
  }
  // The same scene and program give the same calls (the seed is the only source of chance).
  const again = await runLocal(source, { scene, checks });
  assertEquals(
    again.calls.map((c) => [c.skill, c.args, c.ok]),
    evidence.calls.map((c) => [c.skill, c.args, c.ok]),
  );
});

Deno.test("lining the blocks up along the front edge, 10 cm apart", async () => {
  const source =
    `// Line the blocks up along the front edge of the table, 10 cm apart.
const ws = workspace();
const y = ws.yMax - 0.05;
const blocks = detect("block");
blocks.forEach((b, i) => {
  pick(b.id);
  place({ x: ws.xMin + 0.05 + i * 0.1, y: y });
});`;
  const evidence = await runLocal(source, {
    scene: await exampleScene("tabletop.json"),
    instruction: "line the blocks up along the front edge",
    checks: [
      'detect("block").every((b) => b.on === null && Math.abs(b.y - (workspace().yMax - 0.05)) < 1e-9)',
      'detect("block").map((b) => b.x).sort((a, b) => a - b).every((x, i, xs) => i === 0 || Math.abs(x - xs[i - 1] - 0.1) < 1e-9)',
      'detect("block").every((b) => b.x >= workspace().xMin && b.x <= workspace().xMax)',
      NOTHING_HELD,
    ],
  });
  assertSucceeded(evidence);
  assertEquals(evidence.calls.filter((c) => c.skill === "place").length, 4);
});
