import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertThrows,
} from "../_assert.ts";
import type { Obj } from "../skill_api.ts";
import type { SkillOutcome } from "../skill_backend.ts";
import { BackendDisposedError } from "../skill_backend.ts";
import { parseScene } from "./scene.ts";
import { SimBackend } from "./sim_backend.ts";

const OBJECTS = [
  { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
  { id: "green_block", kind: "block", color: "green", x: 0.2, y: -0.6 },
  { id: "blue_block", kind: "block", color: "Blue", x: -0.2, y: -0.3 },
  { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
];

function sim(
  extra: Record<string, unknown> = {},
  options: { timeScale?: number } = { timeScale: 0 },
): SimBackend {
  return new SimBackend(parseScene({ objects: OBJECTS, ...extra }), options);
}

function value(outcome: SkillOutcome): unknown {
  if (!outcome.ok) {
    throw new Error(`expected success, got ${JSON.stringify(outcome)}`);
  }
  return outcome.value;
}

function code(outcome: SkillOutcome): string {
  if (outcome.ok) {
    throw new Error(`expected failure, got ${JSON.stringify(outcome)}`);
  }
  return outcome.error.code;
}

async function find(backend: SimBackend, id: string): Promise<Obj> {
  const world = await backend.world();
  const obj = world?.objects.find((o) => o.id === id);
  assert(obj !== undefined, `no ${id} in the world`);
  return obj;
}

const ids = (outcome: SkillOutcome) =>
  (value(outcome) as Obj[]).map((o) => o.id);

Deno.test("detect matches every word of the query, case-insensitively", async () => {
  await using backend = sim();
  assertEquals(ids(await backend.invoke("detect", [])), [
    "red_block",
    "green_block",
    "blue_block",
    "blue_bowl",
  ]);
  assertEquals(ids(await backend.invoke("detect", ["  "])).length, 4);
  assertEquals(ids(await backend.invoke("detect", ["BLUE"])), [
    "blue_block",
    "blue_bowl",
  ]);
  assertEquals(ids(await backend.invoke("detect", ["block blue"])), [
    "blue_block",
  ]);
  assertEquals(ids(await backend.invoke("detect", ["bowl"])), ["blue_bowl"]);
  assertEquals(ids(await backend.invoke("detect", ["purple"])), []);
  assertEquals(
    (value(await backend.invoke("detect", ["red"])) as Obj[])[0],
    {
      id: "red_block",
      kind: "block",
      color: "red",
      x: 0.1,
      y: -0.5,
      z: 0,
      on: null,
    },
  );
});

Deno.test("pick then place on a block stacks it", async () => {
  await using backend = sim();
  assertEquals(value(await backend.invoke("pick", ["red_block"])), null);
  assertEquals(value(await backend.invoke("holding", [])), "red_block");
  assertEquals(ids(await backend.invoke("detect", ["red"])), []);
  assertEquals(await find(backend, "red_block"), {
    id: "red_block",
    kind: "block",
    color: "red",
    x: 0.1,
    y: -0.5,
    z: SimBackend.dimensions.heldZ,
    on: null,
  });
  assertEquals(value(await backend.invoke("place", ["green_block"])), null);
  assertEquals(value(await backend.invoke("holding", [])), null);
  assertEquals(await find(backend, "red_block"), {
    id: "red_block",
    kind: "block",
    color: "red",
    x: 0.2,
    y: -0.6,
    z: 0.04,
    on: "green_block",
  });
  // A third level: z rises by another block height.
  value(await backend.invoke("pick", ["blue_block"]));
  value(await backend.invoke("place", ["red_block"]));
  const top = await find(backend, "blue_block");
  assertEquals([top.z, top.on, top.x], [0.08, "red_block", 0.2]);
});

Deno.test("place on a bowl puts the object in it; a bowl holds several", async () => {
  await using backend = sim();
  value(await backend.invoke("pick", ["red_block"]));
  value(await backend.invoke("place", ["blue_bowl"]));
  value(await backend.invoke("pick", ["green_block"]));
  value(await backend.invoke("place", ["blue_bowl"]));
  for (const id of ["red_block", "green_block"]) {
    const obj = await find(backend, id);
    assertEquals([obj.x, obj.y, obj.z, obj.on], [
      -0.1,
      -0.4,
      SimBackend.dimensions.bowlFloor,
      "blue_bowl",
    ]);
  }
  // Something stacked on a block in the bowl.
  value(await backend.invoke("pick", ["blue_block"]));
  value(await backend.invoke("place", ["red_block"]));
  assertEquals((await find(backend, "blue_block")).z, 0.05);
});

Deno.test("place at a point puts the object on the table", async () => {
  await using backend = sim();
  value(await backend.invoke("pick", ["red_block"]));
  value(await backend.invoke("place", ["green_block"]));
  value(await backend.invoke("pick", ["red_block"]));
  assertEquals((await find(backend, "green_block")).on, null);
  value(await backend.invoke("place", [{ x: 0.3, y: -0.8 }]));
  assertEquals(await find(backend, "red_block"), {
    id: "red_block",
    kind: "block",
    color: "red",
    x: 0.3,
    y: -0.8,
    z: 0,
    on: null,
  });
});

Deno.test("a bowl can be picked and stacked on a block", async () => {
  await using backend = sim();
  value(await backend.invoke("pick", ["blue_bowl"]));
  value(await backend.invoke("place", ["red_block"]));
  const bowl = await find(backend, "blue_bowl");
  assertEquals([bowl.on, bowl.z], ["red_block", 0.04]);
});

Deno.test("skills end with the documented error codes", async (t) => {
  await using backend = sim({
    objects: [
      ...OBJECTS,
      { id: "top", kind: "block", color: "white", on: "red_block" },
      { id: "inside", kind: "block", color: "pink", on: "blue_bowl" },
    ],
  });
  await t.step("unknown_object", async () => {
    assertEquals(
      code(await backend.invoke("pick", ["nope"])),
      "unknown_object",
    );
    value(await backend.invoke("pick", ["green_block"]));
    assertEquals(
      code(await backend.invoke("place", ["nope"])),
      "unknown_object",
    );
  });
  await t.step("gripper_full", async () => {
    assertEquals(
      code(await backend.invoke("pick", ["blue_block"])),
      "gripper_full",
    );
    assertEquals(
      code(await backend.invoke("pick", ["green_block"])),
      "gripper_full",
    );
  });
  await t.step("invalid_target", async () => {
    assertEquals(
      code(await backend.invoke("place", ["green_block"])),
      "invalid_target",
    );
  });
  await t.step(
    "blocked: placing on a block that carries something",
    async () => {
      const outcome = await backend.invoke("place", ["red_block"]);
      assertEquals(code(outcome), "blocked");
      assertEquals(value(await backend.invoke("holding", [])), "green_block");
    },
  );
  await t.step("out_of_workspace", async () => {
    assertEquals(
      code(await backend.invoke("place", [{ x: 0.31, y: -0.5 }])),
      "out_of_workspace",
    );
    assertEquals(
      code(await backend.invoke("place", [{ x: 0, y: -0.1 }])),
      "out_of_workspace",
    );
    value(await backend.invoke("place", [{ x: 0, y: -0.5 }]));
  });
  await t.step("not_holding", async () => {
    assertEquals(
      code(await backend.invoke("place", ["blue_bowl"])),
      "not_holding",
    );
    assertEquals(
      code(await backend.invoke("place", [{ x: 0, y: -0.5 }])),
      "not_holding",
    );
  });
  await t.step("blocked: picking what carries something", async () => {
    assertEquals(code(await backend.invoke("pick", ["red_block"])), "blocked");
    assertEquals(code(await backend.invoke("pick", ["blue_bowl"])), "blocked");
    assertEquals(value(await backend.invoke("holding", [])), null);
  });
  await t.step("invalid_argument for a bad or unknown skill call", async () => {
    assertEquals(code(await backend.invoke("fly", [])), "invalid_argument");
    assertEquals(code(await backend.invoke("pick", [42])), "invalid_argument");
    assertEquals(
      code(await backend.invoke("place", [{ x: "a", y: 0 }])),
      "invalid_argument",
    );
  });
});

Deno.test("workspace, say and wait", async () => {
  await using backend = sim({
    workspace: { xMin: -1, xMax: 1, yMin: -2, yMax: 0 },
  });
  assertEquals(value(await backend.invoke("workspace", [])), {
    xMin: -1,
    xMax: 1,
    yMin: -2,
    yMax: 0,
  });
  assertEquals(value(await backend.invoke("say", ["hello"])), null);
  assertEquals(value(await backend.invoke("wait", [60])), null);
});

Deno.test("graspFailureRate 1 always slips and the object stays", async () => {
  await using backend = sim({ faults: { graspFailureRate: 1 } });
  const before = await backend.world();
  const outcome = await backend.invoke("pick", ["red_block"]);
  assertEquals(code(outcome), "grasp_failed");
  assertEquals(await backend.world(), before);
  // Preconditions still come first.
  assertEquals(code(await backend.invoke("pick", ["nope"])), "unknown_object");
});

Deno.test("detectionMissRate 1 misses everything; world() still knows", async () => {
  await using backend = sim({ faults: { detectionMissRate: 1 } });
  assertEquals(ids(await backend.invoke("detect", [])), []);
  assertEquals((await backend.world())?.objects.length, 4);
});

async function faultyRun(seed: number): Promise<string[]> {
  await using backend = sim({
    seed,
    faults: { graspFailureRate: 0.5, detectionMissRate: 0.5 },
  });
  const log: string[] = [];
  for (let i = 0; i < 12; i++) {
    log.push(ids(await backend.invoke("detect", [])).join(","));
    const pick = await backend.invoke("pick", ["green_block"]);
    log.push(pick.ok ? "picked" : pick.error.code);
    if (pick.ok) value(await backend.invoke("place", [{ x: 0.2, y: -0.6 }]));
  }
  return log;
}

Deno.test("a run with faults is reproducible from the seed", async () => {
  const first = await faultyRun(7);
  assertEquals(await faultyRun(7), first);
  assert(first.includes("picked") && first.includes("grasp_failed"));
  const others = await Promise.all([1, 2, 3, 4].map(faultyRun));
  assert(
    others.some((run) => JSON.stringify(run) !== JSON.stringify(first)),
    "different seeds should give different runs",
  );
});

Deno.test("aborting a slow pick ends cancelled and leaves the world unchanged", async () => {
  await using backend = sim({ faults: { skillLatencyMs: 5000 } }, {
    timeScale: 1,
  });
  const before = await backend.world();
  const controller = new AbortController();
  const running = backend.invoke("pick", ["red_block"], {
    signal: controller.signal,
  });
  controller.abort();
  const outcome = await running;
  assertEquals(code(outcome), "cancelled");
  assertEquals(await backend.world(), before);
});

Deno.test("an already-aborted signal cancels at once", async () => {
  await using backend = sim({}, { timeScale: 1 });
  const signal = AbortSignal.abort();
  assertEquals(
    code(await backend.invoke("pick", ["red_block"], { signal })),
    "cancelled",
  );
  assertEquals(
    code(await backend.invoke("detect", [], { signal })),
    "cancelled",
  );
  assertEquals(value(await backend.invoke("holding", [])), null);
});

Deno.test("aborting a wait ends cancelled", async () => {
  await using backend = sim({}, { timeScale: 1 });
  const controller = new AbortController();
  const running = backend.invoke("wait", [60], { signal: controller.signal });
  controller.abort();
  assertEquals(code(await running), "cancelled");
});

Deno.test("aborting a place keeps the object in the gripper", async () => {
  await using backend = sim({ faults: { skillLatencyMs: 20 } }, {
    timeScale: 1,
  });
  value(await backend.invoke("pick", ["red_block"]));
  const before = await backend.world();
  const controller = new AbortController();
  const place = backend.invoke("place", ["blue_bowl"], {
    signal: controller.signal,
  });
  controller.abort();
  assertEquals(code(await place), "cancelled");
  assertEquals(await backend.world(), before);
  assertEquals(value(await backend.invoke("holding", [])), "red_block");
});

Deno.test("dispose cancels running skills and refuses new calls", async () => {
  const backend = sim({ faults: { skillLatencyMs: 5000 } }, { timeScale: 1 });
  const running = backend.invoke("pick", ["red_block"]);
  const waiting = backend.invoke("wait", [30]);
  await backend[Symbol.asyncDispose]();
  assert(backend.disposed);
  assertEquals(code(await running), "cancelled");
  assertEquals(code(await waiting), "cancelled");
  const error = await assertRejects(
    () => backend.invoke("holding", []),
    BackendDisposedError,
  );
  assertEquals(error.name, "BackendDisposedError");
  await assertRejects(() => backend.world(), BackendDisposedError);
  await backend[Symbol.asyncDispose]();
});

Deno.test("the constructor checks its options and the scene", () => {
  const scene = parseScene({ objects: OBJECTS });
  assertThrows(() => new SimBackend(scene, { timeScale: -1 }), RangeError);
  assertThrows(
    () => new SimBackend(scene, { timeScale: Number.NaN }),
    RangeError,
  );
  const broken = { ...scene, seed: -1 };
  assertInstanceOf(
    assertThrows(() => new SimBackend(broken), Error),
    Error,
  );
});
