/**
 * The messages between the core and its gRPC gateway process, one JSON
 * object per line on the gateway's stdin (core → gateway) and stdout
 * (gateway → core), each checked on arrival. Bytes travel as base64.
 * @module
 */
import { z } from "zod";

/** Names the protocol in the hello messages. */
export const GATEWAY_PROTOCOL = "cap-edge.gateway/2";

/**
 * Bytes as base64. Their alphabet is checked where they are decoded
 * (`Uint8Array.fromBase64` refuses anything else), not by a pattern here:
 * on a 100 KB envelope the pattern alone cost 0.2 ms of the core's loop.
 */
const Base64 = z.string();

/** One call the gateway forwards. */
export const GatewayCall = z.discriminatedUnion("method", [
  z.strictObject({
    method: z.literal("deliver"),
    envelope: Base64,
    run: z.boolean(),
    command: Base64.optional(),
  }),
  z.strictObject({ method: z.literal("validate"), envelope: Base64 }),
  z.strictObject({
    method: z.literal("run"),
    programId: z.string(),
    version: z.number().int().nonnegative().optional(),
    command: Base64.optional(),
  }),
  z.strictObject({ method: z.literal("stop"), reason: z.string() }),
  z.strictObject({
    method: z.literal("resume"),
    command: Base64.optional(),
  }),
  z.strictObject({ method: z.literal("list") }),
  z.strictObject({
    method: z.literal("listRuns"),
    filter: z.strictObject({
      label: z.string().optional(),
      programId: z.string().optional(),
      outcome: z.string().optional(),
      since: z.string().optional(),
      limit: z.number().int().optional(),
      before: z.number().int().optional(),
    }),
  }),
  z.strictObject({ method: z.literal("getEvidence"), runId: z.string() }),
  z.strictObject({ method: z.literal("getWorld") }),
]);
/** One forwarded call. */
export type GatewayCall = z.infer<typeof GatewayCall>;

/** Gateway → core. */
export const FromGateway = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("hello"),
    protocol: z.string(),
    pid: z.number().int(),
  }),
  z.strictObject({
    type: z.literal("listening"),
    address: z.string(),
    port: z.number().int().positive(),
  }),
  z.strictObject({
    type: z.literal("fatal"),
    reason: z.enum(["address_in_use", "bad_listen", "tls", "other"]),
    message: z.string(),
  }),
  z.strictObject({
    type: z.literal("call"),
    id: z.number().int().nonnegative(),
    peer: z.string(),
    call: GatewayCall,
  }),
  z.strictObject({
    type: z.literal("log"),
    level: z.enum(["info", "warn", "error"]),
    message: z.string(),
  }),
  /** The answer to the core's `ping`: the gateway's event loop turns. */
  z.strictObject({
    type: z.literal("pong"),
    seq: z.number().int().nonnegative(),
  }),
]);
/** One gateway → core message. */
export type FromGateway = z.infer<typeof FromGateway>;

/** Core → gateway. */
export const ToGateway = z.union([
  z.strictObject({ type: z.literal("hello"), protocol: z.string() }),
  /** Asked every second: a gateway that stops answering is replaced. */
  z.strictObject({
    type: z.literal("ping"),
    seq: z.number().int().nonnegative(),
  }),
  z.strictObject({
    type: z.literal("reply"),
    id: z.number().int().nonnegative(),
    ok: z.literal(true),
    value: z.unknown(),
  }),
  z.strictObject({
    type: z.literal("reply"),
    id: z.number().int().nonnegative(),
    ok: z.literal(false),
    status: z.enum([
      "invalid_argument",
      "failed_precondition",
      "not_found",
      "permission_denied",
      "unavailable",
      "internal",
    ]),
    message: z.string(),
  }),
  z.strictObject({
    type: z.literal("event"),
    id: z.number().int().nonnegative(),
    event: z.record(z.string(), z.unknown()),
  }),
]);
/** One core → gateway message. */
export type ToGateway = z.infer<typeof ToGateway>;

/** The gateway's configuration, its only command-line argument (JSON). */
export const GatewayConfig = z.strictObject({
  robotId: z.string(),
  listen: z.string(),
  maxMessageBytes: z.number().int().positive(),
  maxCallsInFlight: z.number().int().positive(),
  tls: z.strictObject({
    cert: z.string(),
    key: z.string(),
    clientCa: z.string().optional(),
  }).optional(),
});
/** The gateway's configuration. */
export type GatewayConfig = z.infer<typeof GatewayConfig>;
