import { showValue } from "../show_value.ts";
import { findSkill, type Obj, TABLETOP_API } from "../skill_api.ts";
import type { WorldState } from "../skill_api.ts";
import {
  BackendDisposedError,
  type InvokeOptions,
  type SkillBackend,
  type SkillOutcome,
} from "../skill_backend.ts";
import type { SkillErrorCode } from "../skill_error.ts";
import { delay } from "../delay.ts";
import { _random } from "./_random.ts";
import { parseScene, type Scene } from "./scene.ts";

/** Height of a block, metres: what stacking on a block adds to `z`. */
const BLOCK_HEIGHT = 0.04;
/** Height of a bowl, metres (its rim). */
const BOWL_HEIGHT = 0.06;
/** Thickness of a bowl's floor, metres: what sitting in a bowl adds to `z`. */
const BOWL_FLOOR = 0.01;
/** `z` that `world()` reports for the held object (in the gripper). */
const HELD_Z = 0.3;

/** Options for {@linkcode SimBackend}. */
export interface SimBackendOptions {
  /**
   * Multiplies every simulated duration (`wait`, `skillLatencyMs`);
   * default 1. `0` makes every skill finish at once (fast tests).
   */
  timeScale?: number;
}

interface _SimObject {
  readonly id: string;
  readonly kind: "block" | "bowl";
  readonly color: string;
  x: number;
  y: number;
  on: string | null;
}

type _Failure = Extract<SkillOutcome, { ok: false }>;

/**
 * The built-in tabletop simulator (`kind: "sim"`), started from a
 * {@linkcode Scene}.
 *
 * Semantics (DESIGN.md "Skill API for the tabletop"):
 * - `z` is the bottom of an object: 0 on the table, +0.04 on a block
 *   (block height), +0.01 in a bowl (floor; a bowl is 0.06 high).
 * - A block carries at most one object; placing onto a block that already
 *   carries one ends `blocked` (nothing is stacked on top of the stack).
 *   A bowl holds any number of objects, all at the bowl's `x`, `y`.
 * - An object with something on or in it cannot be picked (`blocked`).
 * - The held object is not on the table: `detect` does not report it;
 *   `world()` does, with `on: null`, the `x`, `y` it was picked at and
 *   `z: 0.3` (in the gripper).
 * - Placing on a table point `{x, y}` does not check for other objects there.
 * - `pick` and `place` take `faults.skillLatencyMs × timeScale` ms and can be
 *   cancelled; a cancelled skill leaves the world unchanged. Preconditions are
 *   checked at the start and again when the skill completes.
 * - Every random draw (`detectionMissRate` once per matching object in
 *   `detect`, `graspFailureRate` once per otherwise-successful `pick`) comes
 *   from a PRNG seeded with `scene.seed`: same scene and same calls, same run.
 *
 * @example
 * ```ts
 * import { parseScene, SimBackend } from "./mod.ts";
 * await using sim = new SimBackend(parseScene({
 *   objects: [{ id: "a", kind: "block", color: "red", x: 0, y: -0.5 }],
 * }), { timeScale: 0 });
 * const outcome = await sim.invoke("pick", ["a"]);
 * if (!outcome.ok) throw new Error(outcome.error.message);
 * ```
 */
export class SimBackend implements SkillBackend {
  /** Always `"sim"`. */
  readonly kind = "sim";
  /** The simulator's fixed dimensions, metres. */
  static readonly dimensions = {
    blockHeight: BLOCK_HEIGHT,
    bowlHeight: BOWL_HEIGHT,
    bowlFloor: BOWL_FLOOR,
    heldZ: HELD_Z,
  } as const;
  readonly #scene: Scene;
  readonly #timeScale: number;
  readonly #random: () => number;
  readonly #objects: _SimObject[];
  readonly #byId: Map<string, _SimObject>;
  readonly #disposal = new AbortController();
  #holding: string | null = null;

  /** Starts a simulator in the world `scene` describes (checked again here). */
  constructor(scene: Scene, options: SimBackendOptions = {}) {
    const timeScale = options.timeScale ?? 1;
    if (!Number.isFinite(timeScale) || timeScale < 0) {
      throw new RangeError(
        `Cannot create the simulator: timeScale must be a finite number >= 0, got ${timeScale}`,
      );
    }
    this.#scene = parseScene(scene, { source: "SimBackend scene" });
    this.#timeScale = timeScale;
    this.#random = _random(this.#scene.seed);
    this.#objects = this.#scene.objects.map((o) => ({ ...o }));
    this.#byId = new Map(this.#objects.map((o) => [o.id, o]));
  }

  /** Whether the backend has been disposed. */
  get disposed(): boolean {
    return this.#disposal.signal.aborted;
  }

  /**
   * Runs a skill. World errors resolve `{ ok: false }`; only use after
   * dispose rejects (with {@linkcode BackendDisposedError}).
   */
  invoke(
    skill: string,
    args: readonly unknown[],
    options: InvokeOptions = {},
  ): Promise<SkillOutcome> {
    if (this.disposed) {
      return Promise.reject(new BackendDisposedError("sim", `run ${skill}`));
    }
    return this.#invoke(skill, args, options.signal);
  }

  /** The exact world: every object (the held one included) and the grip. */
  world(options: { signal?: AbortSignal } = {}): Promise<WorldState | null> {
    if (this.disposed) {
      return Promise.reject(
        new BackendDisposedError("sim", "read the world"),
      );
    }
    options.signal?.throwIfAborted();
    return Promise.resolve({
      objects: this.#objects.map((o) => this.#report(o)),
      holding: this.#holding,
    });
  }

  /** Cancels every running skill (they end `cancelled`) and refuses new ones. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#disposal.abort(new BackendDisposedError("sim", "finish the skill"));
    return Promise.resolve();
  }

  async #invoke(
    skill: string,
    args: readonly unknown[],
    signal: AbortSignal | undefined,
  ): Promise<SkillOutcome> {
    const spec = findSkill(TABLETOP_API, skill);
    if (spec === undefined) {
      return fail(
        "invalid_argument",
        `Cannot run "${skill}": the simulator has no such skill`,
      );
    }
    for (const [i, param] of spec.params.entries()) {
      const value = args[i];
      if (value === undefined && param.optional) continue;
      if (!param.schema.safeParse(value).success) {
        return fail(
          "invalid_argument",
          `Cannot run ${skill}: argument "${param.name}" is invalid, got ${
            showValue(value, Infinity)
          }`,
        );
      }
    }
    const stop = signal === undefined
      ? this.#disposal.signal
      : AbortSignal.any([this.#disposal.signal, signal]);
    if (stop.aborted) return cancelled(skill, stop);
    switch (skill) {
      case "detect":
        return ok(this.#detect(args[0] as string | undefined));
      case "holding":
        return ok(this.#holding);
      case "workspace":
        return ok({ ...this.#scene.workspace });
      case "say":
        return ok(null);
      case "wait": {
        const ms = (args[0] as number) * 1000 * this.#timeScale;
        try {
          await delay(ms, { signal: stop });
        } catch {
          return cancelled(skill, stop);
        }
        return ok(null);
      }
      case "pick":
      case "place": {
        const act = skill === "pick"
          ? () => this.#pick(args[0] as string)
          : () => this.#place(args[0] as string | { x: number; y: number });
        const early = act();
        if (early !== undefined) return early.failure;
        const ms = this.#scene.faults.skillLatencyMs * this.#timeScale;
        try {
          await delay(ms, { signal: stop });
        } catch {
          return cancelled(skill, stop);
        }
        const done = act();
        if (done !== undefined) return done.failure;
        if (skill === "pick") {
          if (this.#random() < this.#scene.faults.graspFailureRate) {
            return fail(
              "grasp_failed",
              `Cannot pick "${
                args[0]
              }": the grasp slipped (the object stays where it was)`,
            );
          }
        }
        // Both checks passed at completion: apply.
        this.#apply(skill, args[0]);
        return ok(null);
      }
      default:
        return fail(
          "invalid_argument",
          `Cannot run "${skill}": the simulator has no such skill`,
        );
    }
  }

  #detect(query: string | undefined): Obj[] {
    const words = (query ?? "").toLowerCase().split(/\s+/).filter((w) =>
      w !== ""
    );
    const rate = this.#scene.faults.detectionMissRate;
    const found: Obj[] = [];
    for (const obj of this.#objects) {
      if (obj.id === this.#holding) continue;
      const label = `${obj.color} ${obj.kind}`.toLowerCase();
      if (!words.every((word) => label.includes(word))) continue;
      if (rate > 0 && this.#random() < rate) continue;
      found.push(this.#report(obj));
    }
    return found;
  }

  /** Checks a pick; `undefined` when it may go ahead. */
  #pick(id: string): { failure: _Failure } | undefined {
    const obj = this.#byId.get(id);
    if (obj === undefined) {
      return failing(
        "unknown_object",
        `Cannot pick "${id}": there is no such object`,
      );
    }
    if (this.#holding !== null) {
      return failing(
        "gripper_full",
        `Cannot pick "${id}": already holding "${this.#holding}"`,
      );
    }
    const above = this.#restingOn(id);
    if (above.length > 0) {
      return failing(
        "blocked",
        `Cannot pick "${id}": ${above.map((o) => `"${o.id}"`).join(", ")} ${
          above.length === 1 ? "rests" : "rest"
        } on it`,
      );
    }
    return undefined;
  }

  /** Checks a place; `undefined` when it may go ahead. */
  #place(
    target: string | { x: number; y: number },
  ): { failure: _Failure } | undefined {
    const where = typeof target === "string"
      ? `"${target}"`
      : `{x: ${target.x}, y: ${target.y}}`;
    if (this.#holding === null) {
      return failing(
        "not_holding",
        `Cannot place on ${where}: not holding anything`,
      );
    }
    if (typeof target !== "string") {
      const ws = this.#scene.workspace;
      if (
        target.x < ws.xMin || target.x > ws.xMax || target.y < ws.yMin ||
        target.y > ws.yMax
      ) {
        return failing(
          "out_of_workspace",
          `Cannot place "${this.#holding}" at ${where}: the point is outside the workspace (x ${ws.xMin}..${ws.xMax}, y ${ws.yMin}..${ws.yMax})`,
        );
      }
      return undefined;
    }
    const support = this.#byId.get(target);
    if (support === undefined) {
      return failing(
        "unknown_object",
        `Cannot place "${this.#holding}" on ${where}: there is no such object`,
      );
    }
    if (support.id === this.#holding) {
      return failing(
        "invalid_target",
        `Cannot place "${this.#holding}" on ${where}: it is the held object itself`,
      );
    }
    if (support.kind === "block") {
      const above = this.#restingOn(support.id);
      if (above.length > 0) {
        return failing(
          "blocked",
          `Cannot place "${this.#holding}" on ${where}: "${
            above[0]?.id
          }" already rests on it (a block carries one object)`,
        );
      }
    }
    return undefined;
  }

  #apply(skill: "pick" | "place", arg: unknown): void {
    if (skill === "pick") {
      const obj = this.#byId.get(arg as string);
      if (obj === undefined) return;
      obj.on = null;
      this.#holding = obj.id;
      return;
    }
    const held = this.#holding === null
      ? undefined
      : this.#byId.get(this.#holding);
    if (held === undefined) return;
    if (typeof arg === "string") {
      const support = this.#byId.get(arg);
      if (support === undefined) return;
      held.on = support.id;
      held.x = support.x;
      held.y = support.y;
    } else {
      const point = arg as { x: number; y: number };
      held.on = null;
      held.x = point.x;
      held.y = point.y;
    }
    this.#holding = null;
  }

  #restingOn(id: string): _SimObject[] {
    return this.#objects.filter((o) => o.on === id && o.id !== this.#holding);
  }

  #z(obj: _SimObject): number {
    if (obj.id === this.#holding) return HELD_Z;
    let z = 0;
    let at = obj;
    for (
      let depth = 0;
      at.on !== null && depth < this.#objects.length;
      depth++
    ) {
      const support = this.#byId.get(at.on);
      if (support === undefined) break;
      z += support.kind === "block" ? BLOCK_HEIGHT : BOWL_FLOOR;
      at = support;
    }
    return Math.round(z * 1e6) / 1e6;
  }

  #report(obj: _SimObject): Obj {
    return {
      id: obj.id,
      kind: obj.kind,
      color: obj.color,
      x: obj.x,
      y: obj.y,
      z: this.#z(obj),
      on: obj.on,
    };
  }
}

function ok(value: unknown): SkillOutcome {
  return { ok: true, value };
}

function fail(code: SkillErrorCode, message: string): _Failure {
  return { ok: false, error: { code, message } };
}

function failing(
  code: SkillErrorCode,
  message: string,
): { failure: _Failure } {
  return { failure: fail(code, message) };
}

function cancelled(skill: string, signal: AbortSignal): _Failure {
  const reason = signal.reason;
  const why = reason instanceof BackendDisposedError
    ? "the simulator was disposed"
    : "it was cancelled";
  return fail(
    "cancelled",
    `Cannot finish ${skill}: ${why}; the world is unchanged`,
  );
}
