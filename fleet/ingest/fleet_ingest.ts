import mqtt from "mqtt";
import { clearImmediate, setImmediate } from "node:timers";
import type { IClientOptions, MqttClient } from "mqtt";
import type { EvidenceRecord } from "../../runtime/evidence/mod.ts";
import {
  DEFAULT_TOPIC_PREFIX,
  robotTopic,
} from "../../runtime/telemetry/mod.ts";
import type { FleetStore, RobotUpdate } from "../store/mod.ts";
import { parseRobotMessage } from "./parse_robot_message.ts";

/** What the ingest tells its listener after storing something. */
export type FleetEvent =
  | { type: "robot"; robotId: string }
  | { type: "runs"; records: EvidenceRecord[] };

/** Severity and message of an ingest log line. */
export type IngestLog = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  data?: Record<string, unknown>,
) => void;

/** Options of {@linkcode FleetIngest}. */
export interface FleetIngestOptions {
  /** Broker URL: `mqtt://host:1883`, `mqtts://…`, `ws://…`, `wss://…`. */
  url: string;
  /** The evidence store. */
  store: FleetStore;
  /** Topic prefix. Default `cap/v1`. */
  topicPrefix?: string | undefined;
  /** Shared-subscription group: consoles in one group share the load. Default `cap-fleet`. */
  group?: string | undefined;
  /** Base MQTT client id; connection i is `<clientId>-<i>`. Keep it fixed so a restart resumes its session. Default `cap-fleet-<group>`. */
  clientId?: string | undefined;
  /** Parallel connections in the group (each has one evidence message in flight: PUBACK follows the write). Default 16. */
  connections?: number | undefined;
  /** How long the broker keeps a session (and queues for it) while the console is away. Default 7 days. */
  sessionExpirySeconds?: number | undefined;
  /** Broker user name. */
  username?: string | undefined;
  /** Broker password. */
  password?: string | undefined;
  /** PEM strings. */
  tls?: { ca?: string; cert?: string; key?: string } | undefined;
  /** Messages larger than this are ignored. Default 4 MiB. */
  maxPayloadBytes?: number | undefined;
  /** Called after something was stored (feeds the page's live view). */
  onEvent?: ((event: FleetEvent) => void) | undefined;
  /** Where the console logs what it does and ignores. */
  log?: IngestLog | undefined;
}

/** Counters of a {@linkcode FleetIngest}. */
export interface FleetIngestStats {
  /** Connections currently up. */
  connected: number;
  /** Messages received. */
  received: number;
  /** Evidence records newly stored. */
  stored: number;
  /** Evidence records received again and not stored a second time. */
  duplicates: number;
  /** Messages ignored as malformed or too large. */
  ignored: number;
  /** Writes to the store that failed (and were retried). */
  storeErrors: number;
  /** Batches written (each one transaction): `stored / batches` is the batch size. */
  batches: number;
}

interface _Pending {
  record: EvidenceRecord;
  done: (error?: Error) => void;
}

/**
 * Subscribes to every robot's `status`, `telemetry` and `evidence` with an
 * MQTT 5 shared subscription (`$share/<group>/…`, QoS 1) over persistent
 * sessions (`clean: false`, a session expiry), and stores what arrives. An
 * evidence message is acknowledged (PUBACK) only after its record is in the
 * store, so a console that stops or crashes loses nothing: the broker
 * re-delivers, and the store keeps each record once by `runId`.
 *
 * Several connections share the group so that storing one batch overlaps
 * receiving the next; records that arrive together are stored in one
 * transaction.
 */
export class FleetIngest implements AsyncDisposable {
  /** Topic prefix the robots publish under. */
  readonly topicPrefix: string;
  /** The shared-subscription group. */
  readonly group: string;
  #options: FleetIngestOptions;
  #clients: MqttClient[] = [];
  #pending: _Pending[] = [];
  #flushing: Promise<void> | null = null;
  #flushTimer: ReturnType<typeof setImmediate> | undefined;
  #closed = false;
  #closing = false;
  #stats: FleetIngestStats = {
    connected: 0,
    received: 0,
    stored: 0,
    duplicates: 0,
    ignored: 0,
    storeErrors: 0,
    batches: 0,
  };

  /** Creates it; see the options. */
  constructor(options: FleetIngestOptions) {
    this.#options = options;
    this.topicPrefix = options.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
    this.group = options.group ?? "cap-fleet";
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(this.group)) {
      throw new TypeError(
        `Cannot create the fleet ingest: group must be 1-64 letters, digits, "_", "." or "-", got "${this.group}"`,
      );
    }
    const n = options.connections ?? 16;
    if (!Number.isInteger(n) || n < 1 || n > 32) {
      throw new RangeError(
        `Cannot create the fleet ingest: connections must be an integer from 1 to 32, got ${n}`,
      );
    }
  }

  /** Counters. */
  stats(): FleetIngestStats {
    return {
      ...this.#stats,
      connected: this.#clients.filter((c) => c.connected).length,
    };
  }

  /** Connects every connection (and keeps reconnecting); resolves once all are subscribed. */
  async start(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closed) {
      throw new Deno.errors.BadResource(
        "Cannot start the fleet ingest: it is closed",
      );
    }
    if (this.#clients.length > 0) return;
    const n = this.#options.connections ?? 16;
    const base = this.#options.clientId ?? `cap-fleet-${this.group}`;
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const { client, subscribed } = this.#connect(`${base}-${i}`, i === 0);
      this.#clients.push(client);
      ready.push(subscribed);
    }
    await _untilAborted(Promise.all(ready), options.signal);
  }

  /** Publishes `cmd/stop` (QoS 1) to `robotId`; resolves when the broker has it. */
  async stop(
    robotId: string,
    reason: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    const client = this.#clients.find((c) => c.connected);
    if (client === undefined) {
      throw new Error(
        `Cannot stop robot "${robotId}": the console is not connected to the broker`,
      );
    }
    options.signal?.throwIfAborted();
    await client.publishAsync(
      robotTopic(this.topicPrefix, robotId, "cmd/stop"),
      JSON.stringify({ reason }),
      { qos: 1 },
    );
  }

  #connect(
    clientId: string,
    first: boolean,
  ): { client: MqttClient; subscribed: Promise<void> } {
    const o = this.#options;
    const clientOptions: IClientOptions = {
      protocolVersion: 5,
      clientId,
      clean: false,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
      keepalive: 30,
      resubscribe: false,
      queueQoSZero: false,
      properties: {
        sessionExpiryInterval: o.sessionExpirySeconds ?? 7 * 24 * 3600,
        maximumPacketSize: (o.maxPayloadBytes ?? 4 * 1024 * 1024) + 4096,
      },
      customHandleAcks: (topic, payload, _packet, done) =>
        this.#onMessage(topic, payload, done),
    };
    if (o.username !== undefined) clientOptions.username = o.username;
    if (o.password !== undefined) clientOptions.password = o.password;
    if (o.tls?.ca !== undefined) clientOptions.ca = o.tls.ca;
    if (o.tls?.cert !== undefined) clientOptions.cert = o.tls.cert;
    if (o.tls?.key !== undefined) clientOptions.key = o.tls.key;
    const client = mqtt.connect(o.url, clientOptions);
    const p = this.topicPrefix;
    const share = `$share/${this.group}`;
    let onSubscribed = () => {};
    const subscribed = new Promise<void>((resolve) => onSubscribed = resolve);
    client.on("connect", () => {
      // A resumed session keeps its subscriptions; subscribing again is
      // harmless and covers a session the broker let expire.
      const topics: Record<string, { qos: 1 }> = {
        [`${share}/${robotTopic(p, "+", "status")}`]: { qos: 1 },
        [`${share}/${robotTopic(p, "+", "telemetry")}`]: { qos: 1 },
        [`${share}/${robotTopic(p, "+", "evidence")}`]: { qos: 1 },
      };
      // Retained messages never reach shared subscriptions: one plain
      // subscription to status gives every console each robot's state.
      if (first) topics[robotTopic(p, "+", "status")] = { qos: 1 };
      client.subscribeAsync(topics).then(
        () => onSubscribed(),
        (error: Error) =>
          this.#log("warn", "fleet subscribe failed", { error: error.message }),
      );
    });
    // QoS 0 messages (heartbeats) skip customHandleAcks.
    client.on("message", (topic, payload, packet) => {
      if (packet.qos === 0) this.#onMessage(topic, payload, () => {});
    });
    client.on("error", (error) => {
      this.#log("warn", "fleet mqtt error", { clientId, error: error.message });
    });
    return { client, subscribed };
  }

  #onMessage(
    topic: string,
    payload: Uint8Array,
    ack: (error: Error | number) => void,
  ): void {
    // Closing: leave it unacknowledged, the broker re-delivers it later.
    if (this.#closing) return;
    this.#stats.received++;
    const max = this.#options.maxPayloadBytes ?? 4 * 1024 * 1024;
    if (payload.byteLength > max) {
      this.#stats.ignored++;
      this.#log("warn", "fleet message ignored: too large", {
        topic,
        bytes: payload.byteLength,
      });
      return ack(0);
    }
    const message = parseRobotMessage(
      this.topicPrefix,
      topic,
      payload,
      Date.now(),
    );
    if (message.kind === "ignored") {
      this.#stats.ignored++;
      this.#log("debug", "fleet message ignored", {
        topic,
        reason: message.reason,
      });
      return ack(0);
    }
    if (message.kind === "robot") {
      this.#putRobot(message.update).finally(() => ack(0));
      return;
    }
    this.#pending.push({
      record: message.record,
      done: () => ack(0),
    });
    this.#scheduleFlush();
  }

  async #putRobot(update: RobotUpdate): Promise<void> {
    try {
      await this.#options.store.putRobot(update);
      this.#options.onEvent?.({ type: "robot", robotId: update.robotId });
    } catch (error) {
      this.#stats.storeErrors++;
      this.#log("warn", "fleet robot update not stored", {
        robotId: update.robotId,
        error: (error as Error).message,
      });
    }
  }

  #scheduleFlush(): void {
    if (
      this.#flushing !== null || this.#flushTimer !== undefined ||
      this.#closing
    ) return;
    // After this turn's I/O: what the other connections delivered in the
    // same turn joins the batch (setTimeout(0) would wait milliseconds).
    this.#flushTimer = setImmediate(() => {
      this.#flushTimer = undefined;
      if (this.#flushing !== null || this.#closing) return;
      this.#flushing = this.#flush().finally(() => {
        this.#flushing = null;
        if (this.#pending.length > 0) this.#scheduleFlush();
      });
    });
  }

  /** Stores everything pending, retrying (with back-off) while the store fails; then acknowledges. */
  async #flush(): Promise<void> {
    const batch = this.#pending.splice(0, 1000);
    let delayMs = 100;
    while (true) {
      try {
        const stored = await this.#options.store.putRuns(
          batch.map((p) => p.record),
        );
        this.#stats.batches++;
        this.#stats.stored += stored.length;
        this.#stats.duplicates += batch.length - stored.length;
        const storedIds = new Set(stored);
        const records = batch.map((p) => p.record).filter((r) =>
          storedIds.has(r.runId)
        );
        if (records.length > 0) {
          this.#options.onEvent?.({ type: "runs", records });
        }
        break;
      } catch (error) {
        this.#stats.storeErrors++;
        this.#log("error", "fleet evidence not stored; retrying", {
          records: batch.length,
          error: (error as Error).message,
        });
        // Closing: leave the batch unacknowledged; the broker re-delivers.
        if (this.#closing) return;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, 5_000);
        if (this.#closing) return;
      }
    }
    for (const p of batch) p.done();
  }

  #log(
    level: "debug" | "info" | "warn" | "error",
    msg: string,
    data?: Record<string, unknown>,
  ): void {
    this.#options.log?.(level, msg, data);
  }

  /** Stores what was received, then disconnects; the sessions stay on the broker. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    this.#flushTimer = undefined;
    while (this.#flushing !== null || this.#pending.length > 0) {
      if (this.#flushing === null) this.#flushing = this.#flush();
      await this.#flushing;
      this.#flushing = null;
    }
    this.#closed = true;
    await Promise.all(
      this.#clients.map((c) => c.endAsync(false).catch(() => {})),
    );
    this.#clients = [];
  }

  /** Same as `close()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Resolves with `promise`, or rejects when `signal` aborts first. */
function _untilAborted<T>(
  promise: Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  if (signal === undefined) return promise;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}
