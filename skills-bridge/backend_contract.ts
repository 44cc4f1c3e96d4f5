import { assert, assertEquals } from "./_assert.ts";
import { callSkill } from "./call_skill.ts";
import { delay } from "./delay.ts";
import { findSkill, type Obj, TABLETOP_API } from "./skill_api.ts";
import type { WorldState } from "./skill_api.ts";
import type { SkillBackend, SkillOutcome } from "./skill_backend.ts";
import { parseScene, type Scene } from "./sim/mod.ts";

/** Options for {@linkcode runBackendContract}. */
export interface BackendContractOptions {
  /** A fresh backend whose world starts as `scene` describes. Disposed by the suite. */
  newBackend: (scene: Scene) => SkillBackend | Promise<SkillBackend>;
  /** The backend's name, used in step names. */
  name: string;
}

const TOLERANCE = 1e-6;

/** The base world of the suite: three free blocks, a block on another, a bowl. */
const OBJECTS = [
  { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
  { id: "green_block", kind: "block", color: "green", x: 0.2, y: -0.6 },
  { id: "blue_block", kind: "block", color: "blue", x: -0.2, y: -0.3 },
  { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
  { id: "yellow_block", kind: "block", color: "yellow", on: "green_block" },
] as const;

function _scene(faults: Record<string, number> = {}): Scene {
  return parseScene({ seed: 7, objects: OBJECTS, faults }, {
    source: "backend contract scene",
  });
}

/**
 * The shared contract every {@linkcode SkillBackend} of the tabletop API must
 * pass (sim now, the ROS 2 adapter later): detect and its queries, stacking,
 * bowls, table points, every precondition error code, cancellation through an
 * `AbortSignal` (world unchanged), `world()` agreeing with `detect`, results
 * within the API's schemas, and disposal. Every call goes through
 * {@linkcode callSkill}, as in production. No timing assertions.
 *
 * @example
 * ```ts ignore
 * Deno.test("sim backend contract", (t) =>
 *   runBackendContract(t, {
 *     name: "sim",
 *     newBackend: (scene) => new SimBackend(scene),
 *   }));
 * ```
 */
export async function runBackendContract(
  t: Deno.TestContext,
  options: BackendContractOptions,
): Promise<void> {
  const { name, newBackend } = options;

  const step = (title: string, fn: (b: _Driver) => Promise<void>) =>
    t.step(`${name}: ${title}`, async () => {
      await using backend = await newBackend(_scene());
      await fn(new _Driver(backend));
    });

  await step("detect matches every word of the query", async (b) => {
    assertEquals(_ids(await b.detect()), [
      "blue_block",
      "blue_bowl",
      "green_block",
      "red_block",
      "yellow_block",
    ]);
    assertEquals(_ids(await b.detect("red")), ["red_block"]);
    assertEquals(_ids(await b.detect("BLUE")), ["blue_block", "blue_bowl"]);
    assertEquals(_ids(await b.detect("bowl blue")), ["blue_bowl"]);
    assertEquals(_ids(await b.detect("block")), [
      "blue_block",
      "green_block",
      "red_block",
      "yellow_block",
    ]);
    assertEquals(await b.detect("purple"), []);
    const red = (await b.detect("red"))[0];
    assertEquals(red?.kind, "block");
    assertEquals(red?.color, "red");
    assertEquals(red?.on, null);
    _near(red?.x, 0.1, "red_block x");
    _near(red?.y, -0.5, "red_block y");
    const yellow = (await b.detect("yellow"))[0];
    assertEquals(yellow?.on, "green_block");
    assert((yellow?.z ?? 0) > 0, "a stacked block is above the table");
  });

  await step("pick then place on a block stacks it", async (b) => {
    const support = await b.find("blue_block");
    await b.ok("pick", "red_block");
    assertEquals(await b.ok("holding"), "red_block");
    await b.ok("place", "blue_block");
    assertEquals(await b.ok("holding"), null);
    const red = await b.find("red_block");
    assertEquals(red.on, "blue_block");
    _near(red.x, support.x, "stacked x");
    _near(red.y, support.y, "stacked y");
    assert(red.z > support.z, "a stacked block is above its support");
  });

  await step("pick then place on a bowl puts it in", async (b) => {
    const bowl = await b.find("blue_bowl");
    await b.ok("pick", "red_block");
    await b.ok("place", "blue_bowl");
    const red = await b.find("red_block");
    assertEquals(red.on, "blue_bowl");
    _near(red.x, bowl.x, "x in the bowl");
    _near(red.y, bowl.y, "y in the bowl");
    assertEquals(await b.ok("holding"), null);
  });

  await step("place at a point puts it on the table", async (b) => {
    await b.ok("pick", "yellow_block");
    await b.ok("place", { x: -0.25, y: -0.7 });
    const yellow = await b.find("yellow_block");
    assertEquals(yellow.on, null);
    _near(yellow.x, -0.25, "x on the table");
    _near(yellow.y, -0.7, "y on the table");
    _near(yellow.z, 0, "z on the table");
    // The block underneath is free again.
    await b.ok("pick", "green_block");
    assertEquals(await b.ok("holding"), "green_block");
  });

  await step("errors carry the documented codes", async (b) => {
    const before = await b.world();
    await b.fails("unknown_object", "pick", "no_such_object");
    await b.fails("blocked", "pick", "green_block");
    await b.fails("not_holding", "place", "blue_bowl");
    await b.fails("not_holding", "place", { x: 0, y: -0.5 });
    assertEquals(await b.world(), before, "failed skills change nothing");
    await b.ok("pick", "red_block");
    await b.fails("gripper_full", "pick", "blue_block");
    await b.fails("invalid_target", "place", "red_block");
    await b.fails("unknown_object", "place", "no_such_object");
    await b.fails("out_of_workspace", "place", { x: 5, y: -0.5 });
    await b.fails("out_of_workspace", "place", { x: 0, y: 5 });
    assertEquals(await b.ok("holding"), "red_block");
    await b.fails("invalid_argument", "pick", 42);
    await b.fails("invalid_argument", "place", { x: "a", y: 0 });
    await b.fails("invalid_argument", "wait", 0);
    await b.fails("invalid_argument", "fly");
    assertEquals(await b.ok("holding"), "red_block");
  });

  await step("queries and say return their documented values", async (b) => {
    const workspace = await b.ok("workspace");
    assertEquals(workspace, {
      xMin: -0.3,
      xMax: 0.3,
      yMin: -0.8,
      yMax: -0.2,
    });
    assertEquals(await b.ok("holding"), null);
    assertEquals(await b.ok("say", "hello"), null);
  });

  await step("world() agrees with detect", async (b) => {
    await b.ok("pick", "red_block");
    await b.ok("place", "blue_bowl");
    await b.ok("pick", "blue_block");
    const world = await b.world();
    assertEquals(world.holding, "blue_block");
    assertEquals(world.objects.length, OBJECTS.length, "world() lists all");
    const seen = await b.detect();
    for (const obj of world.objects) {
      if (obj.id === world.holding) continue;
      assertEquals(seen.find((o) => o.id === obj.id), obj, obj.id);
    }
    for (const obj of seen) assert(obj.id !== world.holding);
  });

  await t.step(`${name}: an aborted slow skill ends cancelled`, async () => {
    await using backend = await newBackend(_scene({ skillLatencyMs: 5000 }));
    const b = new _Driver(backend);
    const before = await b.world();
    const controller = new AbortController();
    const running = callSkill(backend, TABLETOP_API, "pick", ["red_block"], {
      signal: controller.signal,
    });
    await delay(50);
    controller.abort();
    const outcome = await running;
    assertEquals(outcome.ok ? "ok" : outcome.error.code, "cancelled");
    assertEquals(await b.world(), before, "a cancelled skill changes nothing");
    assertEquals(await b.ok("holding"), null);
    const late = await callSkill(backend, TABLETOP_API, "pick", ["red_block"], {
      signal: AbortSignal.abort(),
    });
    assertEquals(late.ok ? "ok" : late.error.code, "cancelled");
    assertEquals(await b.world(), before);
  });

  await t.step(`${name}: dispose ends the backend`, async () => {
    const backend = await newBackend(_scene({ skillLatencyMs: 5000 }));
    const running = callSkill(backend, TABLETOP_API, "pick", ["red_block"]);
    await backend[Symbol.asyncDispose]();
    const outcome = await running;
    assert(!outcome.ok, "a skill running at dispose does not succeed");
    const after = await callSkill(backend, TABLETOP_API, "holding", []);
    assert(!after.ok, "a disposed backend runs no skill");
  });
}

/** Calls skills through `callSkill` and checks results against the API. */
class _Driver {
  readonly #backend: SkillBackend;

  constructor(backend: SkillBackend) {
    this.#backend = backend;
  }

  async call(skill: string, args: unknown[]): Promise<SkillOutcome> {
    const outcome = await callSkill(this.#backend, TABLETOP_API, skill, args);
    if (outcome.ok) {
      const spec = findSkill(TABLETOP_API, skill);
      assert(spec !== undefined);
      const checked = spec.result.safeParse(outcome.value);
      assert(checked.success, `${skill} result breaks its schema`);
      if (spec.kind === "action") assertEquals(outcome.value, null);
    }
    return outcome;
  }

  async ok(skill: string, ...args: unknown[]): Promise<unknown> {
    const outcome = await this.call(skill, args);
    if (!outcome.ok) {
      throw new Error(
        `${skill}(${
          args.map((a) => JSON.stringify(a)).join(", ")
        }) should succeed, got ${outcome.error.code}: ${outcome.error.message}`,
      );
    }
    return outcome.value;
  }

  async fails(code: string, skill: string, ...args: unknown[]): Promise<void> {
    const outcome = await this.call(skill, args);
    const got = outcome.ok ? "success" : outcome.error.code;
    assertEquals(
      got,
      code,
      `${skill}(${args.map((a) => JSON.stringify(a)).join(", ")})`,
    );
    if (!outcome.ok) {
      assert(outcome.error.message.length > 0, "an error explains itself");
    }
  }

  async detect(query?: string): Promise<Obj[]> {
    return await this.ok(
      "detect",
      ...(query === undefined ? [] : [query]),
    ) as Obj[];
  }

  async find(id: string): Promise<Obj> {
    const obj = (await this.world()).objects.find((o) => o.id === id);
    assert(obj !== undefined, `world() should list "${id}"`);
    return obj;
  }

  async world(): Promise<WorldState> {
    const world = await this.#backend.world();
    assert(world !== null, "the backend should know its world");
    return world;
  }
}

function _ids(objects: readonly Obj[]): string[] {
  return objects.map((o) => o.id).sort();
}

function _near(actual: number | undefined, expected: number, what: string) {
  assert(
    actual !== undefined && Math.abs(actual - expected) <= TOLERANCE,
    `${what}: expected ${expected}, got ${actual}`,
  );
}
