import { showValue } from "../show_value.ts";
import { z } from "zod";
import { ObjectId, type Workspace } from "../skill_api.ts";
import { _jsonErrorPosition } from "./_json_error_position.ts";

const ID_RULE =
  "must be an object id (1-64 letters, digits, '_', '.', ':' or '-')";
const FINITE = "must be a finite number";
const RATE = "must be a number from 0 to 1";
const LATENCY = "must be a number of milliseconds from 0 to 10000";
const MAX_OBJECTS = 200;
const MAX_LISTED = 5;

const Id = z.string({ error: ID_RULE }).refine(
  (value) => ObjectId.safeParse(value).success,
  { error: ID_RULE },
);
const Finite = z.number({ error: FINITE });
const Rate = z.number({ error: RATE }).min(0, { error: RATE }).max(1, {
  error: RATE,
});

const DEFAULT_WORKSPACE = { xMin: -0.3, xMax: 0.3, yMin: -0.8, yMax: -0.2 };
const DEFAULT_FAULTS = {
  graspFailureRate: 0,
  detectionMissRate: 0,
  skillLatencyMs: 0,
};

const SceneObjectInput = z.strictObject({
  id: Id,
  kind: z.enum(["block", "bowl"], { error: 'must be "block" or "bowl"' }),
  color: z.string({ error: "must be a non-empty string" })
    .min(1, { error: "must be a non-empty string" })
    .max(64, { error: "must be at most 64 characters" }),
  x: Finite.optional(),
  y: Finite.optional(),
  on: Id.nullable().optional(),
}, { error: "must be an object" });

type SceneObjectInput = z.output<typeof SceneObjectInput>;

/** A custom issue whose message is the whole sentence after the field path. */
function sentence(
  ctx: z.RefinementCtx,
  path: (string | number)[],
  message: string,
): void {
  ctx.addIssue({ code: "custom", path, message, params: { sentence: true } });
}

const _Scene = z.strictObject({
  seed: z.number({ error: "must be an integer >= 0" })
    .int({ error: "must be an integer >= 0" })
    .min(0, { error: "must be an integer >= 0" })
    .default(7),
  workspace: z.strictObject({
    xMin: Finite,
    xMax: Finite,
    yMin: Finite,
    yMax: Finite,
  }, { error: "must be an object {xMin, xMax, yMin, yMax}" })
    .default(DEFAULT_WORKSPACE),
  objects: z.array(SceneObjectInput, { error: "must be an array of objects" })
    .max(MAX_OBJECTS, { error: `must hold at most ${MAX_OBJECTS} objects` }),
  faults: z.strictObject({
    graspFailureRate: Rate.default(0),
    detectionMissRate: Rate.default(0),
    skillLatencyMs: z.number({ error: LATENCY })
      .min(0, { error: LATENCY })
      .max(10_000, { error: LATENCY })
      .default(0),
  }, { error: "must be an object" }).default(DEFAULT_FAULTS),
}, { error: "must be a JSON object" })
  .superRefine((scene, ctx) => {
    const ws = scene.workspace;
    if (!(ws.xMin < ws.xMax)) {
      sentence(
        ctx,
        ["workspace", "xMax"],
        `must be greater than workspace.xMin (${ws.xMin}), got ${ws.xMax}`,
      );
    }
    if (!(ws.yMin < ws.yMax)) {
      sentence(
        ctx,
        ["workspace", "yMax"],
        `must be greater than workspace.yMin (${ws.yMin}), got ${ws.yMax}`,
      );
    }
    const byId = new Map<string, { index: number; obj: SceneObjectInput }>();
    for (const [index, obj] of scene.objects.entries()) {
      const seen = byId.get(obj.id);
      if (seen !== undefined) {
        sentence(
          ctx,
          ["objects", index, "id"],
          `repeats "${obj.id}", which objects[${seen.index}].id already uses`,
        );
      } else byId.set(obj.id, { index, obj });
    }
    const carried = new Map<string, string>();
    for (const [index, obj] of scene.objects.entries()) {
      const on = obj.on ?? null;
      if (on === null) {
        for (const axis of ["x", "y"] as const) {
          const value = obj[axis];
          const min = axis === "x" ? ws.xMin : ws.yMin;
          const max = axis === "x" ? ws.xMax : ws.yMax;
          if (value === undefined) {
            sentence(
              ctx,
              ["objects", index, axis],
              `is missing (an object on the table needs x and y)`,
            );
          } else if (value < min || value > max) {
            sentence(
              ctx,
              ["objects", index, axis],
              `must be inside the workspace (${min}..${max}), got ${value}`,
            );
          }
        }
        continue;
      }
      if (on === obj.id) {
        sentence(
          ctx,
          ["objects", index, "on"],
          `refers to "${on}", the object itself`,
        );
        continue;
      }
      const support = byId.get(on);
      if (support === undefined) {
        sentence(
          ctx,
          ["objects", index, "on"],
          `refers to "${on}", which is not in the scene`,
        );
        continue;
      }
      if (support.obj.kind === "block") {
        const other = carried.get(on);
        if (other !== undefined) {
          sentence(
            ctx,
            ["objects", index, "on"],
            `refers to "${on}", a block that already carries "${other}" (a block carries one object)`,
          );
          continue;
        }
        carried.set(on, obj.id);
      }
    }
    const reported = new Set<string>();
    for (const [index, obj] of scene.objects.entries()) {
      if (reported.has(obj.id) || obj.on === obj.id) continue;
      const chain = [obj.id];
      let next = obj.on ?? null;
      while (next !== null && !chain.includes(next)) {
        chain.push(next);
        next = byId.get(next)?.obj.on ?? null;
      }
      if (next !== obj.id) continue;
      for (const id of chain) reported.add(id);
      sentence(
        ctx,
        ["objects", index, "on"],
        `makes a cycle: ${[...chain, obj.id].join(" → ")}`,
      );
    }
  })
  .transform((scene) => {
    const byId = new Map(scene.objects.map((o) => [o.id, o]));
    const rootOf = (obj: SceneObjectInput): SceneObjectInput => {
      let at = obj;
      while (at.on != null) at = byId.get(at.on) ?? at;
      return at;
    };
    return {
      seed: scene.seed,
      workspace: { ...scene.workspace },
      objects: scene.objects.map((obj) => {
        const root = rootOf(obj);
        return {
          id: obj.id,
          kind: obj.kind,
          color: obj.color,
          x: root.x ?? 0,
          y: root.y ?? 0,
          on: obj.on ?? null,
        };
      }),
      faults: { ...scene.faults },
    };
  });

/**
 * A scene file (contract, DESIGN.md "Scene file"): the world the simulator
 * starts from. Strict: unknown fields are refused.
 *
 * - `seed` (default 7): integer >= 0; every random draw of the simulator
 *   comes from it.
 * - `workspace` (default `{xMin:-0.3, xMax:0.3, yMin:-0.8, yMax:-0.2}`):
 *   table bounds in metres, `xMin < xMax`, `yMin < yMax`.
 * - `faults` (each default 0): `graspFailureRate` and `detectionMissRate` in
 *   [0, 1], `skillLatencyMs` in 0..10000.
 * - `objects` (0-200): unique `id`s, `kind` `"block"` or `"bowl"`, non-empty
 *   `color`. An object on the table needs `x`, `y` inside the workspace. An
 *   object with `"on": "<id>"` rests on (block) or in (bowl) that object and
 *   takes its `x`, `y` (given ones are ignored, so they may be left out). A
 *   block carries at most one object; a bowl holds any number. No object may
 *   rest on itself, and no cycles.
 *
 * Parsing fills the defaults and resolves every object to `x`, `y` and
 * `on: string | null`.
 */
export interface Scene {
  /** Every random draw of the simulator comes from it. */
  seed: number;
  /** The table bounds, in metres. */
  workspace: Workspace;
  /** The objects, each placed (`x`, `y`) and resting on `on`. */
  objects: SceneObject[];
  /** The simulator's fault injection. */
  faults: SceneFaults;
}

/** An object of a parsed scene. */
export interface SceneObject {
  /** Its id. */
  id: string;
  /** A block carries at most one object; a bowl holds any number. */
  kind: "block" | "bowl";
  /** Its colour, e.g. `"red"`. */
  color: string;
  /** Metres (the supporting object's, for an object resting on one). */
  x: number;
  /** Metres (the supporting object's, for an object resting on one). */
  y: number;
  /** Id of the object it rests on or in, or `null` for the table. */
  on: string | null;
}

/** The faults a scene injects into the simulator. */
export interface SceneFaults {
  /** Chance in [0, 1] that a `pick` slips. */
  graspFailureRate: number;
  /** Chance in [0, 1] that `detect` misses an object. */
  detectionMissRate: number;
  /** Milliseconds every skill takes, 0..10000. */
  skillLatencyMs: number;
}

// The interfaces above and the schema describe the same values (both ways).
true satisfies [Scene, z.output<typeof _Scene>] extends
  [z.output<typeof _Scene>, Scene] ? true : never;

/** Options for {@linkcode SceneError}. */
export interface SceneErrorOptions extends ErrorOptions {
  /** The file or label the scene came from. */
  source?: string;
  /** Each problem found, as `<field path> <what is wrong>`. */
  problems?: readonly string[];
}

/** A scene file could not be loaded: unreadable, not JSON, or breaking the rules. */
export class SceneError extends Error {
  /** The file or label the scene came from, when known. */
  readonly source: string | undefined;
  /** Each problem found, as `<field path> <what is wrong>`. */
  readonly problems: readonly string[];

  /** Creates a scene error; see {@linkcode SceneError.explain} for the usual message. */
  constructor(message: string, options: SceneErrorOptions = {}) {
    const { source, problems, ...errorOptions } = options;
    super(message, errorOptions);
    this.name = "SceneError";
    this.source = source;
    this.problems = problems ?? [message];
  }

  /** A scene error whose message names `source` and lists `problems`. */
  static explain(
    source: string | undefined,
    problems: readonly string[],
    options: ErrorOptions = {},
  ): SceneError {
    const where = source === undefined
      ? "Cannot load scene"
      : `Cannot load scene "${source}"`;
    const shown = problems.slice(0, MAX_LISTED).join("; ");
    const more = problems.length > MAX_LISTED
      ? ` (and ${problems.length - MAX_LISTED} more)`
      : "";
    return new SceneError(`${where}: ${shown}${more}`, {
      ...options,
      ...(source === undefined ? {} : { source }),
      problems,
    });
  }
}

/** Options for {@linkcode parseScene}. */
export interface ParseSceneOptions {
  /** The file or label named in error messages. */
  source?: string;
}

/**
 * Checks a scene (already-parsed JSON) and fills its defaults.
 * Throws {@linkcode SceneError} naming every bad field and its value.
 *
 * @example
 * ```ts
 * import { parseScene } from "./scene.ts";
 * const scene = parseScene({ objects: [{ id: "a", kind: "block", color: "red", x: 0, y: -0.5 }] });
 * if (scene.seed !== 7) throw new Error("default seed");
 * ```
 */
export function parseScene(
  value: unknown,
  options: ParseSceneOptions = {},
): Scene {
  const result = _Scene.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => _describe(issue, value));
  throw SceneError.explain(options.source, problems);
}

/** Options for {@linkcode loadScene}. */
export interface LoadSceneOptions {
  /** Aborts the read; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Reads a scene file (JSON) and checks it with {@linkcode parseScene}.
 * Throws {@linkcode SceneError} when the file cannot be read, is not JSON
 * (naming the position) or breaks the rules (naming the field).
 */
export async function loadScene(
  path: string | URL,
  options: LoadSceneOptions = {},
): Promise<Scene> {
  const { signal } = options;
  const source = path instanceof URL
    ? (path.protocol === "file:"
      ? decodeURIComponent(path.pathname)
      : path.href)
    : path;
  signal?.throwIfAborted();
  let text: string;
  try {
    text = await Deno.readTextFile(path, signal ? { signal } : {});
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const why = error instanceof Deno.errors.NotFound
      ? "the file does not exist"
      : `the file cannot be read (${
        error instanceof Error ? error.message : String(error)
      })`;
    throw SceneError.explain(source, [why], { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const at = _jsonErrorPosition(text);
    const where = at === undefined
      ? ""
      : ` at line ${at.line} column ${at.column} (position ${at.offset})`;
    throw SceneError.explain(source, [
      `the file is not valid JSON${where}: ${message}`,
    ], { cause: error });
  }
  return parseScene(json, { source });
}

/** `objects[2].on` for `["objects", 2, "on"]`. */
function _path(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? String(key) : `.${String(key)}`;
  }
  return text;
}

function _at(
  value: unknown,
  path: readonly PropertyKey[],
): { found: boolean; value: unknown } {
  let at: unknown = value;
  for (const key of path) {
    if (
      typeof at !== "object" || at === null ||
      !Object.hasOwn(at, key as PropertyKey)
    ) {
      return { found: false, value: undefined };
    }
    at = (at as Record<PropertyKey, unknown>)[key as PropertyKey];
  }
  return { found: true, value: at };
}

/** One zod issue as `<field path> <what is wrong>, got <value>`. */
function _describe(issue: z.core.$ZodIssue, input: unknown): string {
  const path = _path(issue.path);
  const field = path === "" ? "the scene" : path;
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.map((key) => JSON.stringify(key));
    return `${field} has ${
      keys.length === 1 ? "an unknown field" : "unknown fields"
    } ${keys.join(", ")}`;
  }
  if (issue.code === "custom" && issue.params?.["sentence"] === true) {
    return `${field} ${issue.message}`;
  }
  const at = _at(input, issue.path);
  if (!at.found && path !== "") return `${field} is missing (${issue.message})`;
  if (
    (issue.code === "too_big" || issue.code === "too_small") &&
    Array.isArray(at.value)
  ) {
    return `${field} ${issue.message}, got ${at.value.length}`;
  }
  return `${field} ${issue.message}, got ${showValue(at.value)}`;
}
