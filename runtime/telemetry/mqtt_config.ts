import { z } from "zod";
import { DEFAULT_TOPIC_PREFIX } from "./topics.ts";

const _TOPIC_PREFIX = /^[^/+#]+(\/[^/+#]+)*$/;
const _positive = () => z.number().int().positive();

const _MqttConfig = z.strictObject({
  url: z.string().regex(
    /^(mqtt|mqtts|tcp|ssl|tls|ws|wss):\/\/[^\s]+$/,
    "must be an mqtt://, mqtts://, ws:// or wss:// URL",
  ),
  topicPrefix: z.string().regex(
    _TOPIC_PREFIX,
    'must be "/"-separated non-empty segments without "+" or "#"',
  ).default(DEFAULT_TOPIC_PREFIX),
  clientId: z.string().min(1).max(256).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  tls: z.strictObject({
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
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
    synchronous: z.enum(["normal", "full"]).default("normal"),
    syncIntervalMs: _positive().default(1_000),
  }).prefault({}),
});

/** The parsed `mqtt` block of the service configuration (defaults filled in). */
export interface MqttConfig {
  /** The broker: `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  url: string;
  /** Topics are `<topicPrefix>/robots/<robotId>/…`; default `cap/v1`. */
  topicPrefix: string;
  /** MQTT client id; default derived from the robot id. */
  clientId?: string | undefined;
  /** User name for the broker. */
  username?: string | undefined;
  /** Password for the broker. */
  password?: string | undefined;
  /** TLS to the broker. */
  tls?: MqttConfigTls | undefined;
  /** Milliseconds between heartbeats; default 5 000. */
  heartbeatMs: number;
  /** First reconnect delay, ms; default 500. */
  reconnectMinMs: number;
  /** Longest reconnect delay, ms; default 30 000. */
  reconnectMaxMs: number;
  /** Most QoS 1 messages awaiting PUBACK; default 64. */
  maxInFlight: number;
  /** Largest inbound message accepted, bytes; default 65 536. */
  maxInboundBytes: number;
  /** The durable outbox (see `OutboxOptions`). */
  outbox: MqttConfigOutbox;
}

/** The `mqtt.tls` block. */
export interface MqttConfigTls {
  /** PEM text or path of the CA bundle that signs the broker's certificate. */
  ca?: string | undefined;
  /** PEM text or path of the client certificate (mTLS). */
  cert?: string | undefined;
  /** PEM text or path of the client key (mTLS). */
  key?: string | undefined;
  /** Refuse a broker whose certificate does not verify; default `true`. */
  rejectUnauthorized: boolean;
}

/** The `mqtt.outbox` block. */
export interface MqttConfigOutbox {
  /** The outbox file; default `<stateDir>/outbox.sqlite`. */
  path?: string | undefined;
  /** Most records kept; default 10 000. */
  maxRecords: number;
  /** Most bytes kept, if bounded. */
  maxBytes?: number | undefined;
  /** `"normal"` (the default): survives kill -9, fsync'ed within `syncIntervalMs`; `"full"`: fsync per record (survives power loss). See `Outbox`. */
  synchronous: "normal" | "full";
  /** Most milliseconds between fsyncs in `"normal"` mode; default 1 000. */
  syncIntervalMs: number;
}

/** What checks an `mqtt` block: a zod schema, seen through `parse` and `safeParse`. */
export interface MqttConfigSchema {
  /** Returns the block with its defaults, or throws an `Error` saying what is wrong. */
  parse(value: unknown): MqttConfig;
  /** Returns `{ success: true, data }`, or `{ success: false, error }` listing each problem and its path. */
  safeParse(value: unknown):
    | { success: true; data: MqttConfig }
    | {
      success: false;
      error: Error & {
        readonly issues: ReadonlyArray<{
          readonly message: string;
          readonly path: ReadonlyArray<PropertyKey>;
        }>;
      };
    };
}

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
export const MqttConfigSchema: MqttConfigSchema = _MqttConfig;

// The interfaces above and the schema describe the same values (both ways).
true satisfies [MqttConfig, z.output<typeof _MqttConfig>] extends
  [z.output<typeof _MqttConfig>, MqttConfig] ? true : never;
