import { deepEqual, equal } from "node:assert/strict";
import { runLocal } from "../runtime/executor/mod.ts";
import { parseScene } from "../skills-bridge/mod.ts";
import { replayRun } from "./replay_run.ts";

const scene = parseScene({
  seed: 3,
  objects: [
    { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
    { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
  ],
});

Deno.test("replayRun reproduces a run, and names a missing or an extra call", async () => {
  const record = await runLocal(
    'const [b] = detect("red block");\npick(b.id);\nplace("blue_bowl");',
    { scene, timeScale: 0 },
  );
  equal(record.outcome, "succeeded");
  const same = await replayRun(record);
  equal(same.reproduced, true, same.message);
  deepEqual(same.evidence.calls.map((c) => c.skill), [
    "detect",
    "pick",
    "place",
  ]);
  deepEqual(same.evidence.worldAfter, record.worldAfter);

  const fewer = await replayRun(record, {
    source: 'const [b] = detect("red block");\npick(b.id);',
  });
  equal(fewer.reproduced, false);
  deepEqual(fewer.divergence, {
    seq: 3,
    expected: { skill: "place", args: ["blue_bowl"] },
    actual: null,
  });

  const more = await replayRun(record, {
    source:
      'const [b] = detect("red block");\npick(b.id);\nplace("blue_bowl");\nsay("done");',
  });
  equal(more.reproduced, false);
  deepEqual(more.divergence, {
    seq: 4,
    expected: null,
    actual: { skill: "say", args: ["done"] },
  });
  equal(more.message.includes("call 4 differs"), true);
});
