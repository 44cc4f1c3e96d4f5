import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../_assert.ts";
import { loadScene, parseScene, SceneError } from "./scene.ts";
import { _jsonErrorPosition } from "./_json_error_position.ts";

const red = {
  id: "red_block",
  kind: "block" as const,
  color: "red",
  x: 0.1,
  y: -0.5,
};
const bowl = { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 };

function refused(value: unknown): SceneError {
  const error = assertThrows(
    () => parseScene(value, { source: "bad.json" }),
    SceneError,
  );
  assertStringIncludes(error.message, 'Cannot load scene "bad.json": ');
  return error;
}

Deno.test("parseScene fills the defaults", () => {
  const scene = parseScene({ objects: [red] });
  assertEquals(scene, {
    seed: 7,
    workspace: { xMin: -0.3, xMax: 0.3, yMin: -0.8, yMax: -0.2 },
    objects: [{ ...red, on: null }],
    faults: { graspFailureRate: 0, detectionMissRate: 0, skillLatencyMs: 0 },
  });
});

Deno.test("parseScene fills each missing fault with 0", () => {
  const scene = parseScene({ objects: [], faults: { graspFailureRate: 0.5 } });
  assertEquals(scene.faults, {
    graspFailureRate: 0.5,
    detectionMissRate: 0,
    skillLatencyMs: 0,
  });
});

Deno.test("parseScene places stacked objects at what they rest on", () => {
  const scene = parseScene({
    objects: [
      red,
      { id: "green_block", kind: "block", color: "green", on: "red_block" },
      bowl,
      {
        id: "pink_block",
        kind: "block",
        color: "pink",
        on: "blue_bowl",
        x: 0.2,
        y: -0.3,
      },
      { id: "top", kind: "block", color: "white", on: "green_block" },
    ],
  });
  const at = (id: string) => scene.objects.find((o) => o.id === id);
  assertEquals(at("green_block"), {
    id: "green_block",
    kind: "block",
    color: "green",
    x: 0.1,
    y: -0.5,
    on: "red_block",
  });
  assertEquals(at("pink_block")?.x, -0.1);
  assertEquals(at("top")?.y, -0.5);
});

Deno.test("parseScene: a bowl holds several objects", () => {
  const scene = parseScene({
    objects: [
      bowl,
      { id: "a", kind: "block", color: "red", on: "blue_bowl" },
      { id: "b", kind: "block", color: "red", on: "blue_bowl" },
    ],
  });
  assertEquals(scene.objects.map((o) => o.on), [
    null,
    "blue_bowl",
    "blue_bowl",
  ]);
});

Deno.test("parseScene names the field and the bad value", async (t) => {
  const cases: [string, unknown, string][] = [
    [
      "non-number coordinate",
      { objects: [red, { ...bowl, x: "a" }] },
      'objects[1].x must be a finite number, got "a"',
    ],
    [
      "missing coordinate",
      { objects: [{ id: "a", kind: "block", color: "red", x: 0 }] },
      "objects[0].y is missing",
    ],
    [
      "coordinate outside the workspace",
      { objects: [{ ...red, x: 0.9 }] },
      "objects[0].x must be inside the workspace (-0.3..0.3), got 0.9",
    ],
    [
      "unknown reference",
      {
        objects: [red, bowl, {
          id: "x",
          kind: "block",
          color: "red",
          on: "green_block",
        }],
      },
      'objects[2].on refers to "green_block", which is not in the scene',
    ],
    [
      "resting on itself",
      { objects: [{ id: "a", kind: "block", color: "red", on: "a" }] },
      'objects[0].on refers to "a", the object itself',
    ],
    [
      "cycle",
      {
        objects: [
          { id: "a", kind: "block", color: "red", on: "b" },
          { id: "b", kind: "bowl", color: "red", on: "a" },
        ],
      },
      "objects[0].on makes a cycle: a → b → a",
    ],
    [
      "two objects on one block",
      {
        objects: [
          red,
          { id: "a", kind: "block", color: "red", on: "red_block" },
          { id: "b", kind: "block", color: "red", on: "red_block" },
        ],
      },
      'objects[2].on refers to "red_block", a block that already carries "a"',
    ],
    [
      "duplicate id",
      { objects: [red, { ...bowl, id: "red_block" }] },
      'objects[1].id repeats "red_block"',
    ],
    [
      "bad id",
      { objects: [{ ...red, id: "red block" }] },
      "objects[0].id must be an object id",
    ],
    [
      "bad kind",
      { objects: [{ ...red, kind: "cup" }] },
      'objects[0].kind must be "block" or "bowl", got "cup"',
    ],
    [
      "empty color",
      { objects: [{ ...red, color: "" }] },
      'objects[0].color must be a non-empty string, got ""',
    ],
    [
      "unknown object field",
      { objects: [{ ...red, colour: "red" }] },
      'objects[0] has an unknown field "colour"',
    ],
    [
      "unknown top-level field",
      { objects: [], robots: 2 },
      'the scene has an unknown field "robots"',
    ],
    [
      "objects missing",
      {},
      "objects is missing",
    ],
    [
      "too many objects",
      {
        objects: Array.from(
          { length: 201 },
          (_, i) => ({ ...red, id: `o${i}` }),
        ),
      },
      "objects must hold at most 200 objects, got 201",
    ],
    [
      "negative seed",
      { objects: [], seed: -1 },
      "seed must be an integer >= 0, got -1",
    ],
    [
      "fractional seed",
      { objects: [], seed: 1.5 },
      "seed must be an integer >= 0, got 1.5",
    ],
    [
      "empty workspace",
      { objects: [], workspace: { xMin: 0, xMax: 0, yMin: -1, yMax: 0 } },
      "workspace.xMax must be greater than workspace.xMin (0), got 0",
    ],
    [
      "inverted workspace y",
      { objects: [], workspace: { xMin: 0, xMax: 1, yMin: 0, yMax: -1 } },
      "workspace.yMax must be greater than workspace.yMin (0), got -1",
    ],
    [
      "partial workspace",
      { objects: [], workspace: { xMin: 0 } },
      "workspace.xMax is missing",
    ],
    [
      "rate above 1",
      { objects: [], faults: { detectionMissRate: 1.5 } },
      "faults.detectionMissRate must be a number from 0 to 1, got 1.5",
    ],
    [
      "negative latency",
      { objects: [], faults: { skillLatencyMs: -5 } },
      "faults.skillLatencyMs must be a number of milliseconds from 0 to 10000, got -5",
    ],
    [
      "latency too long",
      { objects: [], faults: { skillLatencyMs: 10_001 } },
      "faults.skillLatencyMs must be a number of milliseconds from 0 to 10000, got 10001",
    ],
    [
      "not an object",
      [],
      "the scene must be a JSON object, got []",
    ],
    [
      "object entry not an object",
      { objects: [5] },
      "objects[0] must be an object, got 5",
    ],
  ];
  for (const [name, value, expected] of cases) {
    await t.step(name, () => {
      assertStringIncludes(refused(value).message, expected);
    });
  }
});

Deno.test("parseScene lists every problem", () => {
  const error = refused({
    objects: [{ ...red, x: "a" }, { ...bowl, kind: "cup" }],
    seed: -1,
  });
  assertEquals(error.problems.length, 3);
  assertEquals(error.source, "bad.json");
});

Deno.test("parseScene without a source still explains", () => {
  const error = assertThrows(() => parseScene(null), SceneError);
  assertEquals(
    error.message,
    "Cannot load scene: the scene must be a JSON object, got null",
  );
});

Deno.test("loadScene reads the example scenes", async () => {
  const tabletop = await loadScene(
    new URL("../../examples/tabletop.json", import.meta.url),
  );
  assert(tabletop.objects.some((o) => o.kind === "bowl"));
  assert(tabletop.objects.some((o) => o.kind === "block"));
  const stack = await loadScene(
    new URL("../../examples/stack.json", import.meta.url),
  );
  assert(stack.objects.some((o) => o.on !== null));
});

Deno.test("loadScene names the file and position of bad JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/bad.json`;
    await Deno.writeTextFile(path, '{\n  "objects": [,]\n}\n');
    const error = await assertRejects(() => loadScene(path), SceneError);
    assertStringIncludes(error.message, `Cannot load scene "${path}"`);
    assertStringIncludes(error.message, "not valid JSON");
    assertStringIncludes(error.message, "at line 2 column 15");
    await Deno.writeTextFile(path, '{ "objects": [');
    const end = await assertRejects(() => loadScene(path), SceneError);
    assertStringIncludes(end.message, "at line 1 column 15 (position 14)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadScene names the file and field of a bad scene", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/bad.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({ objects: [red, { ...bowl, x: "a" }] }),
    );
    const error = await assertRejects(() => loadScene(path), SceneError);
    assertEquals(
      error.message,
      `Cannot load scene "${path}": objects[1].x must be a finite number, got "a"`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadScene refuses a missing file", async () => {
  const error = await assertRejects(
    () => loadScene("/nonexistent/scene.json"),
    SceneError,
  );
  assertStringIncludes(error.message, '"/nonexistent/scene.json"');
  assertStringIncludes(error.message, "does not exist");
  assertInstanceOf(error.cause, Deno.errors.NotFound);
});

Deno.test("loadScene honours an aborted signal", async () => {
  const controller = new AbortController();
  controller.abort(new DOMException("stop", "AbortError"));
  await assertRejects(
    () =>
      loadScene(new URL("../../examples/tabletop.json", import.meta.url), {
        signal: controller.signal,
      }),
    DOMException,
  );
});

Deno.test("_jsonErrorPosition agrees with JSON.parse", () => {
  const valid = ['{"a": [1, -2.5e3, true, null, "x\\u00e9\\n"]}', " [] ", '""'];
  for (const text of valid) {
    JSON.parse(text);
    assertEquals(_jsonErrorPosition(text), undefined);
  }
  const invalid: [string, number][] = [
    ["{a: 1}", 1],
    ['{"a": 1,}', 8],
    ['{"a": tru}', 6],
    ["[1 2]", 3],
    ['{"a":1} x', 8],
    ['"\\x"', 2],
    ["", 0],
  ];
  for (const [text, offset] of invalid) {
    assertThrows(() => JSON.parse(text), SyntaxError);
    assertEquals(_jsonErrorPosition(text)?.offset, offset, text);
  }
});

Deno.test("SceneError takes a message, or explains a source's problems", () => {
  const plain = new SceneError("Cannot load scene: stdin is empty");
  assertEquals(plain.message, "Cannot load scene: stdin is empty");
  assertEquals(plain.problems, ["Cannot load scene: stdin is empty"]);
  assertEquals(plain.name, "SceneError");
  const many = SceneError.explain(
    "s.json",
    ["a", "b", "c", "d", "e", "f", "g"],
  );
  assertEquals(
    many.message,
    'Cannot load scene "s.json": a; b; c; d; e (and 2 more)',
  );
  assertEquals(many.source, "s.json");
  assertEquals(many.problems.length, 7);
});
