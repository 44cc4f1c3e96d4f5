/**
 * The core's half of the channel to the ROS 2 bridge (`cap-edge-ros2/1`):
 * zod schemas of what the bridge may send, checked on arrival, and the
 * shapes the core sends (the bridge checks those by hand, in
 * `bridge/protocol.js`). A message that breaks them ends the bridge, never
 * the core.
 * @module
 */
import { z } from "zod";
import { Obj } from "../skill_api.ts";
import { SKILL_ERROR_CODES } from "../skill_error.ts";

/** The protocol name both sides put in their first message. */
export const _PROTOCOL = "cap-edge-ros2/1";

const Id = z.number().int().nonnegative();
const GoalId = z.string().regex(/^[0-9a-f]{32}$/);

/** A skill's outcome as the bridge reports it (`held`: the held object, from `holding`). */
export const _BridgeOutcome = z.union([
  z.strictObject({
    ok: z.literal(true),
    value: z.unknown(),
    held: z.custom<Obj>((value) => Obj.safeParse(value).success, {
      error: "must be an object as detect reports it",
    }).optional(),
  }),
  z.strictObject({
    ok: z.literal(false),
    error: z.strictObject({
      code: z.enum(SKILL_ERROR_CODES),
      message: z.string(),
    }),
  }),
]);

/** Every message the bridge may send. */
export const _BridgeMessage = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("hello"), protocol: z.string() }),
  z.strictObject({
    type: z.literal("ready"),
    orphans: z.array(z.strictObject({
      goalId: GoalId,
      cancelled: z.boolean(),
      message: z.string(),
    })),
  }),
  z.strictObject({ type: z.literal("unavailable"), message: z.string() }),
  z.strictObject({
    type: z.literal("feedback"),
    id: Id,
    feedback: z.unknown(),
  }),
  z.strictObject({
    type: z.literal("result"),
    id: Id,
    outcome: _BridgeOutcome,
  }),
  z.strictObject({ type: z.literal("estop") }),
  z.strictObject({ type: z.literal("pong"), id: Id }),
]);

/** A message from the bridge, checked. */
export type _BridgeMessage = z.infer<typeof _BridgeMessage>;

/** A goal the core saw accepted and never saw end: the next bridge cancels it. */
export interface _Orphan {
  /** The action name. */
  action: string;
  /** The goal id, 32 hex digits. */
  goalId: string;
}
