/**
 * The messages between the core and a sandbox host process, one JSON object
 * per line on the host's stdin (core → host) and stdout (host → core), each
 * checked on arrival. In the host, the QuickJS worker reads and writes these
 * lines itself; an e-stop also comes as SIGUSR2 (see `_protocol.ts`).
 * @module
 */
import { z } from "zod";
export { SANDBOX_PROTOCOL } from "./_protocol.ts";

const Limits = z.strictObject({
  memoryBytes: z.number().int().positive(),
  stackBytes: z.number().int().positive(),
  deadline: z.number(),
  checkTimeoutMs: z.number().positive(),
});

/** Core → host. */
const GuestLimits = z.strictObject({
  maxArrayLength: z.number().int().positive(),
  maxCompareWork: z.number().int().positive(),
  maxSkillArgumentDepth: z.number().int().positive(),
  maxSkillArgumentValues: z.number().int().positive(),
  maxSkillArgumentsJsonBytes: z.number().int().positive(),
});

export const ToHost = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("hello"),
    protocol: z.string(),
    /** The sandbox's numeric limits (the verifier's SANDBOX_LIMITS). */
    limits: GuestLimits,
    /** The skills of the next run, when known: its context is built before `ready`. */
    skills: z.array(z.string()).optional(),
    /**
     * The most memory a run may take, bytes: the engine's memory can never
     * grow past this and what the engine holds itself.
     */
    memoryBytes: z.number().int().positive(),
  }),
  z.strictObject({
    type: z.literal("run"),
    gen: z.number().int().nonnegative(),
    source: z.string(),
    /** The source's catch sites, as the core's verifier found them. */
    catchSites: z.array(
      z.strictObject({
        offset: z.number().int().nonnegative(),
        name: z.string().min(1),
      }),
    ).optional(),
    checks: z.array(z.string()),
    skills: z.array(z.string()),
    querySkills: z.array(z.string()),
    limits: Limits,
  }),
  z.strictObject({
    type: z.literal("answer"),
    gen: z.number().int().nonnegative(),
    seq: z.number().int().nonnegative(),
    json: z.string(),
  }),
  z.strictObject({
    type: z.literal("halt"),
    /** The run to halt; a halt for any other run is stale and ignored. */
    gen: z.number().int().nonnegative(),
    reason: z.number().int().min(1).max(3),
  }),
]);
/** One core → host message. */
export type ToHost = z.infer<typeof ToHost>;

const Check = z.object({
  expr: z.string(),
  ok: z.boolean(),
  message: z.string().optional(),
});

const GuestEnd = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("ok") }),
  z.object({
    kind: z.literal("error"),
    name: z.string(),
    message: z.string(),
    code: z.string().nullable(),
    line: z.number().nullable(),
    interrupted: z.boolean(),
    engine: z.boolean(),
    skillSeq: z.number().int().positive().nullable().optional(),
  }),
]);

/** Host → core. */
export const FromHost = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("hello"),
    protocol: z.string(),
    pid: z.number().int(),
  }),
  z.strictObject({ type: z.literal("ready") }),
  z.strictObject({
    type: z.literal("call"),
    gen: z.number().int().nonnegative(),
    seq: z.number().int().nonnegative(),
    phase: z.enum(["program", "check"]),
    skill: z.string(),
    args: z.array(z.unknown()).nullable(),
    argsBytes: z.number().int().nonnegative(),
    /**
     * Where `args` held NaN or an infinity, which JSON cannot carry (they
     * travel as null): each a path of keys and indices, and the number's name.
     */
    nonFinite: z.array(z.strictObject({
      path: z.array(z.union([z.string(), z.number().int().nonnegative()])),
      value: z.enum(["NaN", "Infinity", "-Infinity"]),
    })).max(10_000).optional(),
  }),
  z.strictObject({
    type: z.literal("result"),
    gen: z.number().int().nonnegative(),
    result: z.discriminatedUnion("kind", [
      z.object({
        kind: z.literal("done"),
        end: GuestEnd,
        checks: z.array(Check),
      }),
      z.object({ kind: z.literal("crashed"), message: z.string() }),
      z.object({ kind: z.literal("killed") }),
    ]),
    /**
     * The host process's resident memory, bytes, as last measured: after
     * the run before when that one did not simply finish, else within the
     * last 8 runs (a reading costs a tenth of a trivial run's work).
     */
    rss: z.number().nonnegative(),
    /** The core's stop signal reached the worker during this run (and is spent). */
    signalled: z.literal(true).optional(),
  }),
  z.strictObject({ type: z.literal("fatal"), message: z.string() }),
]);
/** One host → core message. */
export type FromHost = z.infer<typeof FromHost>;
