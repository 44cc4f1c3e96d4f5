import { z } from "zod";

const _TOPIC_PREFIX = /^[^/+#]+(\/[^/+#]+)*$/;
const _positive = () => z.number().int().positive();

/**
 * The `mqtt` block of the service configuration. Only `url` is required;
 * the other keys default as shown. Field names match
 * `MqttTelemetryOptions` so the parsed block spreads into it, and `outbox`
 * matches `OutboxOptions` (the file is `<stateDir>/outbox.sqlite` unless
 * `outbox.path` is given).
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * const config = MqttConfigSchema.parse({ url: "mqtt://127.0.0.1:1883" });
 * deepStrictEqual(config.topicPrefix, "cap/v1");
 * deepStrictEqual(config.outbox.maxRecords, 10000);
 * ```
 */
export const MqttConfigSchema = z.strictObject({
  url: z.string().regex(
    /^(mqtt|mqtts|tcp|ssl|tls|ws|wss):\/\/[^\s]+$/,
    "must be an mqtt://, mqtts://, ws:// or wss:// URL",
  ),
  topicPrefix: z.string().regex(
    _TOPIC_PREFIX,
    'must be "/"-separated non-empty segments without "+" or "#"',
  ).default("cap/v1"),
  clientId: z.string().min(1).max(256).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  tls: z.strictObject({
    /** PEM text or path of the CA bundle that signs the broker's certificate. */
    ca: z.string().min(1).optional(),
    /** PEM text or path of the client certificate (mTLS). */
    cert: z.string().min(1).optional(),
    /** PEM text or path of the client key (mTLS). */
    key: z.string().min(1).optional(),
    rejectUnauthorized: z.boolean().default(true),
  }).optional(),
  heartbeatMs: _positive().default(5_000),
  reconnectMinMs: _positive().default(500),
  reconnectMaxMs: _positive().default(30_000),
  maxInFlight: _positive().max(65_535).default(64),
  maxInboundBytes: _positive().default(65_536),
  outbox: z.strictObject({
    path: z.string().min(1).optional(),
    maxRecords: _positive().default(10_000),
    maxBytes: _positive().optional(),
    /** `"normal"`: survives kill -9, fsync'ed within `syncIntervalMs`; `"full"`: fsync per record (survives power loss). See `Outbox`. */
    synchronous: z.enum(["normal", "full"]).default("normal"),
    syncIntervalMs: _positive().default(1_000),
  }).prefault({}),
});

/** The parsed `mqtt` block (defaults filled in). */
export type MqttConfig = z.output<typeof MqttConfigSchema>;
