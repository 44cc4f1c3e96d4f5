import { z } from "zod";
import type { SkillSchema } from "./skill_schema.ts";

const _ObjectId = z.string().min(1).max(64).regex(
  /^[A-Za-z0-9_.:-]+$/,
  "an object id is 1-64 characters of letters, digits, '_', '.', ':' or '-'",
);
/** An object id: short, printable, no spaces. */
export const ObjectId: SkillSchema<string> = _ObjectId;

const _Coordinate = z.number().finite();
/** A finite coordinate in metres. */
export const Coordinate: SkillSchema<number> = _Coordinate;

/** A point on the table, in metres. */
export interface Point {
  /** Metres; grows to the right. */
  x: number;
  /** Metres; grows toward the far edge of the table. */
  y: number;
}
const _Point = z.strictObject({ x: _Coordinate, y: _Coordinate });
/** A point on the table, in metres. */
export const Point: SkillSchema<Point> = _Point;

/** An object as `detect` reports it. */
export interface Obj {
  /** Its id. */
  id: string;
  /** What it is: `"block"`, `"bowl"`, … */
  kind: string;
  /** Its colour: `"red"`, … */
  color: string;
  /** Metres. */
  x: number;
  /** Metres. */
  y: number;
  /** Metres; its bottom. */
  z: number;
  /** Id of the object it rests on or in, or `null` for the table. */
  on: string | null;
}
const _Obj = z.strictObject({
  id: _ObjectId,
  kind: z.string(),
  color: z.string(),
  x: z.number(),
  y: z.number(),
  z: z.number(),
  on: _ObjectId.nullable(),
});
/** An object as `detect` reports it. */
export const Obj: SkillSchema<Obj> = _Obj;

/** The table bounds, in metres. */
export interface Workspace {
  /** Left edge. */
  xMin: number;
  /** Right edge. */
  xMax: number;
  /** Near edge. */
  yMin: number;
  /** Far edge. */
  yMax: number;
}
const _Workspace = z.strictObject({
  xMin: _Coordinate,
  xMax: _Coordinate,
  yMin: _Coordinate,
  yMax: _Coordinate,
});
/** The table bounds, in metres. */
export const Workspace: SkillSchema<Workspace> = _Workspace;

// Each interface above and its schema describe the same values (both ways).
true satisfies [
  [Point, Obj, Workspace],
  [z.output<typeof _Point>, z.output<typeof _Obj>, z.output<typeof _Workspace>],
] extends [
  [z.output<typeof _Point>, z.output<typeof _Obj>, z.output<typeof _Workspace>],
  [Point, Obj, Workspace],
] ? true
  : never;

/** A world-state estimate as the evidence record keeps it. */
export interface WorldState {
  /** The objects believed to be in the world. */
  objects: Obj[];
  /** Id of the object in the gripper, or `null`. */
  holding: string | null;
}

/** One parameter of a skill: its name, its zod schema, whether it may be left out. */
export interface ParamSpec {
  /** Name of the parameter, as rendered in declarations. */
  readonly name: string;
  /** The schema an argument must pass (a zod schema). */
  readonly schema: SkillSchema;
  /** Whether the argument may be left out. */
  readonly optional: boolean;
  /** What the parameter means, as rendered in declarations. */
  readonly doc: string;
}

/** One skill of the API: its ports (zod schemas) and what it does. */
export interface SkillSpec {
  /** Name of the skill, the function the program calls. */
  readonly name: string;
  /** `query` skills only read the world (allowed in postcondition checks). */
  readonly kind: "query" | "action";
  /** What the skill does, as rendered in declarations and the prompt. */
  readonly doc: string;
  /** The parameters, in call order. */
  readonly params: readonly ParamSpec[];
  /** The schema of the value the skill returns (a zod schema). */
  readonly result: SkillSchema;
}

/** A whole skill API: the single description the verifier, the executor and the prompt use. */
export interface SkillApi {
  /** Version of the API, recorded in the evidence. */
  readonly version: string;
  /** The skills, in the order declarations list them. */
  readonly skills: readonly SkillSpec[];
}

const Query = z.string().max(200);
const Seconds = z.number().finite().gt(0).lte(60);
const Text = z.string().max(2000);
const Target = z.union([_ObjectId, _Point]);

/** The tabletop skill API of the design (contract). */
export const TABLETOP_API: SkillApi = {
  version: "tabletop/1",
  skills: [
    {
      name: "detect",
      kind: "query",
      doc:
        'Objects whose "<color> <kind>" contains every word of the query (case-insensitive); no query: all objects. May miss objects under sensor faults.',
      params: [{
        name: "query",
        schema: Query,
        optional: true,
        doc: 'words such as "red block" or "bowl"',
      }],
      result: z.array(_Obj),
    },
    {
      name: "pick",
      kind: "action",
      doc:
        "Grasp the object. Throws grasp_failed on a slip (the object stays), blocked when something rests on it, gripper_full when already holding.",
      params: [{
        name: "id",
        schema: ObjectId,
        optional: false,
        doc: "id of the object to pick",
      }],
      result: z.null(),
    },
    {
      name: "place",
      kind: "action",
      doc:
        "Put the held object on/in the object `target`, or on the table at {x, y} in metres. Throws not_holding, invalid_target, out_of_workspace.",
      params: [{
        name: "target",
        schema: Target,
        optional: false,
        doc: "an object id, or a table point {x, y}",
      }],
      result: z.null(),
    },
    {
      name: "holding",
      kind: "query",
      doc: "Id of the held object, or null.",
      params: [],
      result: _ObjectId.nullable(),
    },
    {
      name: "workspace",
      kind: "query",
      doc: "The table bounds in metres.",
      params: [],
      result: Workspace,
    },
    {
      name: "wait",
      kind: "action",
      doc: "Wait, 0 < seconds <= 60.",
      params: [{
        name: "seconds",
        schema: Seconds,
        optional: false,
        doc: "how long to wait",
      }],
      result: z.null(),
    },
    {
      name: "say",
      kind: "action",
      doc: "Record a message in the evidence.",
      params: [{
        name: "text",
        schema: Text,
        optional: false,
        doc: "what to say",
      }],
      result: z.null(),
    },
  ],
};

/** The names of the tabletop skills. */
export type SkillName =
  | "detect"
  | "pick"
  | "place"
  | "holding"
  | "workspace"
  | "wait"
  | "say";

/** Finds a skill of `api` by name, or `undefined`. */
export function findSkill(
  api: SkillApi,
  name: string,
): SkillSpec | undefined {
  return api.skills.find((s) => s.name === name);
}
