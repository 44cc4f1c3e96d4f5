import mqtt from "mqtt";
import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt";
import { Buffer } from "node:buffer";
import { boundRecord, type EvidenceRecord } from "../evidence/mod.ts";
import { ClosedError } from "../../skills-bridge/mod.ts";
import { type Outbox, OutboxFullError, type OutboxRecord } from "./outbox.ts";
import { DEFAULT_TOPIC_PREFIX, robotTopic, runEventsTopic } from "./topics.ts";

/** The robot's state as the retained `status` topic shows it (contract). */
export type RobotState = "online" | "running" | "stopped" | "offline";

/** What the heartbeat reports about the service, read at each beat. */
export interface TelemetrySnapshot {
  /** The robot's state. */
  state: RobotState;
  /** The run in progress, or `null`. */
  currentRunId: string | null;
  /** More of the service's health, merged into the heartbeat (e.g. `stateFiles`, `replay`). */
  health?: Record<string, unknown>;
  /** Where clients reach the robot's gRPC service, once it serves; sent as the heartbeat's `grpc`. */
  grpc?: GrpcEndpoint | undefined;
}

/**
 * The gRPC endpoint a robot announces in its heartbeat (`grpc`), so that a
 * fleet console can reach it.
 */
export interface GrpcEndpoint {
  /** `host:port` to dial, or `null` when the robot listens on every interface and has no `grpc.advertise`. */
  address: string | null;
  /** The service speaks TLS. */
  tls: boolean;
  /** The service asks for a client certificate (mutual TLS). */
  clientAuth: boolean;
}

/** How a `cmd/stop` message was read; every one of them stops the robot. */
export interface StopInfo {
  /** Why the payload is not `{"reason"?: string}`, or `null` when it is. */
  malformed: string | null;
  /** Whether the broker delivered it as a retained message. */
  retained: boolean;
}

/** Severity of a {@linkcode TelemetryLog} line. */
export type TelemetryLogLevel = "debug" | "info" | "warn" | "error";

/** Where the telemetry client reports what it does and ignores. */
export type TelemetryLog = (
  level: TelemetryLogLevel,
  msg: string,
  data?: Record<string, unknown>,
) => void;

/** TLS settings: each of `ca`, `cert`, `key` is a PEM string or a path to a PEM file. */
export interface MqttTlsOptions {
  /** The CA bundle that signs the broker's certificate. */
  ca?: string | undefined;
  /** The client certificate (mutual TLS). */
  cert?: string | undefined;
  /** The client key (mutual TLS). */
  key?: string | undefined;
  /** Verify the broker's certificate. Default true. */
  rejectUnauthorized?: boolean | undefined;
}

/** Options of {@linkcode MqttTelemetry}. */
export interface MqttTelemetryOptions {
  /** Broker URL: `mqtt://host:1883`, `mqtts://host:8883`, `ws://…`, `wss://…`. */
  url: string;
  /** The robot's id (a topic segment). */
  robotId: string;
  /** Topic prefix; topics are `<prefix>/robots/<robotId>/…`. Default `cap/v1`. */
  topicPrefix?: string | undefined;
  /** MQTT client id. Default `cap-edge-<robotId>`, fixed so that a restarted service takes over its old session (the old connection's will fires before the new `online`). */
  clientId?: string | undefined;
  /** Broker user name. */
  username?: string | undefined;
  /** Broker password. */
  password?: string | undefined;
  /** TLS settings for `mqtts://` and `wss://`. */
  tls?: MqttTlsOptions | undefined;
  /** The durable queue evidence goes through; the caller owns (and closes) it. */
  outbox: Outbox;
  /** Heartbeat period on `telemetry`. Default 5000 ms. */
  heartbeatMs?: number | undefined;
  /** First reconnect delay; doubles per failed attempt up to `reconnectMaxMs`. Default 500 ms. */
  reconnectMinMs?: number | undefined;
  /** Reconnect delay cap. Default 30000 ms. */
  reconnectMaxMs?: number | undefined;
  /** Evidence messages published and not yet acknowledged at once. Default 64. */
  maxInFlight?: number | undefined;
  /** A `cmd/stop` payload larger than this is not parsed (it still stops, as malformed; up to 1 MiB arrives). Default 65536 bytes. */
  maxInboundBytes?: number | undefined;
  /** The service's state, read for each heartbeat. */
  status: () => TelemetrySnapshot;
  /**
   * Called for every message on `cmd/stop`, whatever its payload (contract):
   * `reason` is the payload's reason, or says that the payload was malformed.
   */
  onStop?: ((reason: string, info: StopInfo) => void) | undefined;
  /** Called with the outbox ids of evidence rows acknowledged by the broker, once they are deleted (batched). */
  onAcked?: ((ids: readonly number[]) => void) | undefined;
  /** Seconds a heartbeat or run event stays deliverable (MQTT 5 message expiry). Default 3 heartbeats for the heartbeat, 300 s for run events. */
  messageExpirySeconds?: number | undefined;
  /** Where the client reports what it does. */
  log?: TelemetryLog | undefined;
}

/** The topics one robot uses (contract). */
export interface MqttTopics {
  /** `<prefix>/robots/<robotId>/status` (retained). */
  status: string;
  /** `<prefix>/robots/<robotId>/telemetry` (heartbeat). */
  telemetry: string;
  /** `<prefix>/robots/<robotId>/evidence` (QoS 1). */
  evidence: string;
  /** `<prefix>/robots/<robotId>/cmd/stop` (inbound). */
  cmdStop: string;
  /** `<prefix>/robots/<robotId>/runs/<runId>/events` */
  runEvents(runId: string): string;
}

/** Counters of a {@linkcode MqttTelemetry}. */
export interface MqttTelemetryStats {
  /** Both connections are up. */
  connected: boolean;
  /** Connections of the evidence link since the start. */
  connects: number;
  /** Evidence messages acknowledged by the broker (and deleted from the outbox). */
  evidenceAcked: number;
  /** Evidence messages published and not yet acknowledged. */
  evidenceInFlight: number;
  /** Evidence records refused because the outbox was full (not queued; the caller keeps them). */
  evidenceRefused: number;
  /** Evidence publishes that failed (to be retried or set aside). */
  publishErrors: number;
  /** Inbound messages on other topics than `cmd/stop`. */
  inboundIgnored: number;
  /** Messages on `cmd/stop` (each one stopped the robot). */
  stopsReceived: number;
  /** Of those, the ones whose payload was not `{"reason"?: string}`. */
  stopsMalformed: number;
  /** Evidence records set aside: the broker refused them (kept in the outbox file, not sent again). */
  evidenceSetAside: number;
  /** Evidence records cut further to fit the broker's Maximum Packet Size. */
  evidenceRebounded: number;
  /** The broker's Maximum Packet Size from its CONNACK, or `null` when it announced none. */
  brokerMaxPacketBytes: number | null;
}

/** Options of {@linkcode MqttTelemetry.waitConnected} and {@linkcode MqttTelemetry.waitDrained}. */
export interface WaitOptions {
  /** Aborts the wait. */
  signal?: AbortSignal;
  /** Default 10000 ms. */
  timeoutMs?: number;
}

// deno-lint-ignore no-control-regex -- NUL is forbidden in MQTT topics
const _SEGMENT = /^[^/+#\u0000]+$/;
// deno-lint-ignore no-control-regex -- NUL is forbidden in MQTT topics
const _PREFIX = /^[^/+#\u0000]+(\/[^/+#\u0000]+)*$/;
const _decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The robot's MQTT link, over two connections so that the stop path never
 * waits on the evidence path:
 *
 * - the control connection (client id `cap-edge-<robotId>`) carries the
 *   retained `status` with its `offline` last will, the heartbeat and the
 *   inbound `cmd/stop`; it only ever sends small packets, so a stuck,
 *   refused or draining evidence stream cannot delay or drop it;
 * - the evidence connection (`<clientId>-evidence`) carries run events and
 *   evidence from the durable outbox (at-least-once: a row is deleted only
 *   after the broker's PUBACK).
 *
 * Evidence flow: {@linkcode MqttTelemetry.enqueueEvidence} appends to the
 * outbox (durable before it returns), then a pump publishes the oldest rows
 * in order with QoS 1, at most `maxInFlight` unacknowledged at once, only
 * while connected; acknowledged rows are deleted in batches. A row larger
 * than the broker's Maximum Packet Size (from its CONNACK) is bounded again
 * to fit; a row the broker refuses (a PUBACK error, or the connection
 * dropped each time it was in flight alone) is set aside in the outbox file,
 * counted and named in the heartbeat, and the rows behind it go on. When
 * the link drops, unacknowledged rows are sent again from the outbox (mqtt.js
 * keeps no queue of its own), one at a time until each is acknowledged, so
 * that the one that made the broker drop the link is found.
 */
export class MqttTelemetry implements AsyncDisposable {
  /** The robot's id (a topic segment). */
  readonly robotId: string;
  /** The topic prefix, e.g. `cap/v1`. */
  readonly topicPrefix: string;
  /** The robot's topics. */
  readonly topics: MqttTopics;
  #options: MqttTelemetryOptions;
  #outbox: Outbox;
  #log: TelemetryLog;
  #control: MqttClient | null = null;
  #data: MqttClient | null = null;
  #state: RobotState = "online";
  #startedAt = 0;
  #closing: Promise<void> | null = null;
  #closed = false;
  #subscribed = false;
  #dataUp = false;
  #inFlight = new Set<number>();
  #pendingAcks = new Set<number>();
  /** Rows in flight when the link dropped: sent one at a time until acknowledged; value = drops while alone in flight. */
  #suspects = new Map<number, number>();
  /** Rows refused with a transient PUBACK error: attempts so far. */
  #refusals = new Map<number, number>();
  #cursor = 0;
  /** Rows this process appended and has not seen acknowledged, by id (a cache of the outbox). */
  #fresh = new Map<number, OutboxRecord>();
  #brokerMaxPacket: number | null = null;
  #heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryMs: number;
  #waiters = new Set<() => void>();
  /** The newest set-aside records, for the heartbeat; `null` until read from the outbox (they survive a restart there). */
  #recentSetAside:
    | Array<
      { runId: string | null; reason: string; bytes: number; at: string }
    >
    | null = null;
  #stats: MqttTelemetryStats = {
    connected: false,
    connects: 0,
    evidenceAcked: 0,
    evidenceInFlight: 0,
    evidenceRefused: 0,
    publishErrors: 0,
    inboundIgnored: 0,
    stopsReceived: 0,
    stopsMalformed: 0,
    evidenceSetAside: 0,
    evidenceRebounded: 0,
    brokerMaxPacketBytes: null,
  };

  /** Checks the options; {@linkcode MqttTelemetry.start} connects. */
  constructor(options: MqttTelemetryOptions) {
    const prefix = options.topicPrefix ?? DEFAULT_TOPIC_PREFIX;
    if (!_SEGMENT.test(options.robotId)) {
      throw new TypeError(
        `Cannot create MQTT telemetry: robotId must be a non-empty topic segment without "/", "+" or "#", got "${options.robotId}"`,
      );
    }
    if (!_PREFIX.test(prefix)) {
      throw new TypeError(
        `Cannot create MQTT telemetry: topicPrefix must be "/"-separated non-empty segments without "+" or "#", got "${prefix}"`,
      );
    }
    for (
      const key of [
        "heartbeatMs",
        "reconnectMinMs",
        "reconnectMaxMs",
        "maxInFlight",
        "maxInboundBytes",
        "messageExpirySeconds",
      ] as const
    ) {
      const value = options[key];
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        throw new RangeError(
          `Cannot create MQTT telemetry: ${key} must be a positive integer, got ${value}`,
        );
      }
    }
    this.robotId = options.robotId;
    this.topicPrefix = prefix;
    this.#options = options;
    this.#outbox = options.outbox;
    this.#log = options.log ?? (() => {});
    this.#retryMs = this.#reconnectMin;
    const robotId = options.robotId;
    this.topics = {
      status: robotTopic(prefix, robotId, "status"),
      telemetry: robotTopic(prefix, robotId, "telemetry"),
      evidence: robotTopic(prefix, robotId, "evidence"),
      cmdStop: robotTopic(prefix, robotId, "cmd/stop"),
      runEvents: (runId) => {
        if (!_SEGMENT.test(runId)) {
          throw new TypeError(
            `Cannot build the run events topic: runId must be a topic segment without "/", "+" or "#", got "${runId}"`,
          );
        }
        return runEventsTopic(prefix, robotId, runId);
      },
    };
  }

  get #reconnectMin(): number {
    return this.#options.reconnectMinMs ?? 500;
  }

  get #reconnectMax(): number {
    return Math.max(this.#reconnectMin, this.#options.reconnectMaxMs ?? 30_000);
  }

  get #maxInFlight(): number {
    return this.#options.maxInFlight ?? 64;
  }

  get #heartbeatMs(): number {
    return this.#options.heartbeatMs ?? 5_000;
  }

  /** True while both connections (control and evidence) are up. */
  get connected(): boolean {
    // Our own flag, set in the "connect" handler: mqtt.js sets
    // `client.connected` a few ticks before it emits "connect".
    return this.#control?.connected === true && this.#dataUp &&
      this.#data?.connected === true;
  }

  /** The outbox's depth and the age of its oldest record (ms); `null` once closed. */
  outboxStats(): { depth: number; oldestAgeMs: number } | null {
    if (this.#outbox.closed) return null;
    return {
      depth: this.#outbox.depth(),
      oldestAgeMs: this.#outbox.oldestAgeMs(),
    };
  }

  /** Counters. */
  stats(): MqttTelemetryStats {
    return {
      ...this.#stats,
      connected: this.connected,
      evidenceInFlight: this.#inFlight.size,
      brokerMaxPacketBytes: this.#brokerMaxPacket,
    };
  }

  /** Starts connecting in the background (and keeps reconnecting); returns at once. */
  start(): void {
    if (this.#closed) {
      throw new ClosedError(`the telemetry client of "${this.robotId}"`, {
        action: "start MQTT telemetry",
      });
    }
    if (this.#control !== null) return;
    this.#startedAt = performance.now();
    const clientId = this.#options.clientId ?? `cap-edge-${this.robotId}`;
    const control = this.#connect("control", {
      clientId,
      will: {
        topic: this.topics.status,
        payload: Buffer.from("offline"),
        qos: 1,
        retain: true,
        properties: { payloadFormatIndicator: true, contentType: "text/plain" },
      },
      properties: {
        // Payloads over maxInboundBytes still arrive (and stop, as
        // malformed) up to this size; the broker drops larger ones.
        maximumPacketSize: _CONTROL_MAX_PACKET,
      },
    });
    this.#control = control;
    control.on("connect", () => this.#onControlConnect(control));
    control.on("close", () => {
      this.#subscribed = false;
    });
    control.on("message", (topic, payload, packet) => {
      try {
        this.#onMessage(topic, payload, packet);
      } catch (error) {
        this.#log("error", "mqtt cmd/stop handler failed", {
          topic,
          error: (error as Error).message,
        });
      }
    });
    const data = this.#connect("evidence", {
      clientId: `${clientId}-evidence`,
      properties: { maximumPacketSize: 65_536 },
    });
    this.#data = data;
    data.on("connect", (connack) => this.#onDataConnect(data, connack));
    data.on("close", () => this.#onDataClose(data));
    this.#heartbeatTimer = setInterval(
      () => this.#heartbeat(),
      this.#heartbeatMs,
    );
  }

  /** Resolves when both connections are up and `cmd/stop` is subscribed (at once if already). */
  waitConnected(options: WaitOptions = {}): Promise<void> {
    return this.#waitFor(
      () => this.connected && this.#subscribed,
      "connect",
      options,
    );
  }

  /** Resolves when the outbox is empty and nothing is in flight. */
  waitDrained(options: WaitOptions = {}): Promise<void> {
    return this.#waitFor(
      () =>
        this.#inFlight.size === 0 && this.#pendingAcks.size === 0 &&
        !this.#outbox.closed && this.#outbox.depth() === 0,
      "drain the outbox",
      options,
    );
  }

  /** Publishes the retained status (QoS 1) if connected; it is also re-published on every connect. */
  publishStatus(state: RobotState): void {
    this.#state = state;
    const client = this.#control;
    if (client === null || !client.connected || this.#closed) return;
    this.#publishStatus(client, state);
  }

  /** Publishes a run event (QoS 0) on `runs/<runId>/events` if connected; dropped otherwise (and when larger than the broker takes). */
  publishRunEvent(runId: string, event: unknown): void {
    const topic = this.topics.runEvents(runId);
    const client = this.#data;
    if (client === null || !client.connected || this.#closed) {
      this.#log("debug", "mqtt run event dropped: not connected", { runId });
      return;
    }
    const payload = JSON.stringify(event);
    if (!this.#fits(topic, _byteLength(payload))) {
      this.#log(
        "debug",
        "mqtt run event dropped: larger than the broker takes",
        {
          runId,
        },
      );
      return;
    }
    client.publish(
      topic,
      payload,
      {
        qos: 0,
        properties: {
          ..._JSON,
          messageExpiryInterval: this.#options.messageExpirySeconds ?? 300,
        },
      },
      (error) => {
        if (error) {
          this.#log("debug", "mqtt run event not sent", {
            runId,
            error: error.message,
          });
        }
      },
    );
  }

  /**
   * Appends the evidence record to the outbox (durable when this returns),
   * then lets the pump publish it on `evidence` with QoS 1.
   *
   * A full outbox is reported, never silent: the refusal is logged, counted
   * in `evidenceRefused` and in the heartbeat (`outbox.full`,
   * `outbox.rejected`, sent at once), and the error is thrown so that the
   * caller keeps the record elsewhere.
   * @throws {OutboxFullError} when the outbox is full (the record is not kept).
   */
  enqueueEvidence(record: object): { id: number } {
    const { ids } = this.enqueueEvidenceMany([record]);
    return { id: ids[0]! };
  }

  /**
   * Appends several evidence records in one outbox transaction (durable
   * when this returns), then lets the pump publish them.
   * @throws {OutboxFullError} when they do not all fit (none is kept).
   */
  enqueueEvidenceMany(records: readonly object[]): { ids: number[] } {
    if (this.#closed) {
      throw new ClosedError(`the telemetry client of "${this.robotId}"`, {
        action: "enqueue evidence",
      });
    }
    let result: { ids: number[] };
    const rows = records.map((record) => ({
      topic: this.topics.evidence,
      payload: _encoder.encode(JSON.stringify(record)),
      kind: "evidence",
    }));
    const halfFull = this.#halfFullFor(records);
    try {
      if (halfFull !== null) throw halfFull;
      result = this.#outbox.appendMany(rows);
    } catch (error) {
      if (error instanceof OutboxFullError) {
        this.#stats.evidenceRefused += records.length;
        const runIds = records.map((record) => {
          const runId = (record as { runId?: unknown }).runId;
          return typeof runId === "string" ? runId : null;
        });
        const why = error === halfFull
          ? "the outbox is half full, and its second half is kept for runs (a refused delivery's record)"
          : "the outbox is full";
        this.#log("error", `mqtt evidence refused: ${why}`, {
          runId: runIds.length === 1 ? runIds[0] : runIds,
          depth: error.depth,
          bytes: error.bytes,
          refused: this.#stats.evidenceRefused,
        });
        this.#heartbeat();
      }
      throw error;
    }
    // Keep what was just written at hand: the pump sends it without
    // reading it back from SQLite.
    const createdMs = Date.now();
    rows.forEach((row, i) => {
      if (this.#fresh.size >= _MAX_FRESH) return;
      const id = result.ids[i]!;
      this.#fresh.set(id, { id, ...row, createdMs });
    });
    this.#pump();
    return result;
  }

  /**
   * Records of refused deliveries (outcome `rejected`) may fill the outbox
   * only up to half, in records and in bytes: anyone who reaches the gRPC
   * port can make them, and while the broker is away they must not leave
   * no room for the records of runs (the caller keeps a refused one in the
   * local store). The refusal when `records` holds one and the outbox is
   * half full (the batch is refused whole); `null` otherwise.
   */
  #halfFullFor(records: readonly object[]): OutboxFullError | null {
    if (
      !records.some((r) => (r as { outcome?: unknown }).outcome === "rejected")
    ) return null;
    const { depth, bytes, maxRecords, maxBytes } = this.#outbox.stats();
    if (depth < maxRecords / 2 && bytes < maxBytes / 2) return null;
    return new OutboxFullError(
      `Cannot queue the record of a refused delivery: the outbox holds ${depth} of ${maxRecords} records (${bytes} of ${maxBytes} bytes), and its second half is kept for runs`,
      depth,
      bytes,
    );
  }

  /** Publishes `offline` (retained) if connected, then disconnects both connections; idempotent. The outbox stays open. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as {@linkcode MqttTelemetry.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #connect(
    role: "control" | "evidence",
    extra: Pick<IClientOptions, "clientId" | "will" | "properties">,
  ): MqttClient {
    const tls = this.#options.tls;
    const clientOptions: IClientOptions = {
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: this.#reconnectMin,
      connectTimeout: 10_000,
      keepalive: 30,
      queueQoSZero: false,
      resubscribe: false,
      ...extra,
    };
    if (this.#options.username !== undefined) {
      clientOptions.username = this.#options.username;
    }
    if (this.#options.password !== undefined) {
      clientOptions.password = this.#options.password;
    }
    if (tls !== undefined) {
      if (tls.ca !== undefined) clientOptions.ca = _pem(tls.ca, "ca");
      if (tls.cert !== undefined) clientOptions.cert = _pem(tls.cert, "cert");
      if (tls.key !== undefined) clientOptions.key = _pem(tls.key, "key");
      clientOptions.rejectUnauthorized = tls.rejectUnauthorized ?? true;
    }
    const client = mqtt.connect(this.#options.url, clientOptions);
    let backoff = this.#reconnectMin;
    let up = false;
    client.on("connect", () => {
      up = true;
      backoff = this.#reconnectMin;
      client.options.reconnectPeriod = backoff;
      // Small packets (status, PUBACKs, evidence) must not wait for Nagle's
      // algorithm and the peer's delayed ACK (~40 ms on Linux).
      (client.stream as { setNoDelay?: (noDelay: boolean) => void })
        .setNoDelay?.(true);
    });
    client.on("reconnect", () => {
      // Capped exponential backoff with jitter: mqtt.js reads
      // options.reconnectPeriod each time it schedules the next attempt.
      backoff = Math.min(this.#reconnectMax, backoff * 2);
      const jitter = 0.8 + Math.random() * 0.4;
      client.options.reconnectPeriod = Math.round(backoff * jitter);
      this.#log("debug", `mqtt ${role} reconnecting`, {
        nextDelayMs: client.options.reconnectPeriod,
      });
    });
    client.on("close", () => {
      if (up) {
        this.#log("warn", `mqtt connection lost (${role})`, {
          inFlight: this.#inFlight.size,
        });
      }
      up = false;
      this.#stats.connected = this.connected;
    });
    client.on("error", (error) => {
      this.#log("warn", `mqtt error (${role})`, { error: error.message });
    });
    return client;
  }

  async #close(): Promise<void> {
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#flushAcks();
    for (const wake of this.#waiters) wake();
    const control = this.#control;
    if (control !== null && control.connected) {
      await _bounded(
        new Promise<void>((resolve) => {
          control.publish(
            this.topics.status,
            "offline",
            { qos: 1, retain: true, properties: _TEXT },
            () => resolve(),
          );
        }),
        2_000,
      );
    }
    await Promise.all(
      [control, this.#data].map((client) =>
        client === null ? Promise.resolve() : _end(client)
      ),
    );
    this.#flushAcks();
    this.#stats.connected = false;
  }

  #onControlConnect(client: MqttClient): void {
    if (this.#closed) return;
    this.#log("info", "mqtt connected (control)", { url: this.#options.url });
    client.subscribe(this.topics.cmdStop, { qos: 1 }, (error, granted) => {
      const failure = error?.message ??
        (granted?.some((g) => g.qos >= 0x80)
          ? `broker refused with reason ${granted[0]?.qos}`
          : undefined);
      if (failure !== undefined) {
        this.#log("error", "mqtt cannot subscribe to cmd/stop", {
          error: failure,
        });
        return;
      }
      this.#subscribed = true;
      this.#wake();
    });
    this.#publishStatus(client, this.#state);
    this.#heartbeat();
    this.#wake();
  }

  #onDataConnect(
    client: MqttClient,
    connack: { properties?: { maximumPacketSize?: number } },
  ): void {
    if (this.#closed) return;
    this.#stats.connects++;
    this.#brokerMaxPacket = connack.properties?.maximumPacketSize ?? null;
    this.#dataUp = true;
    this.#stats.connected = this.connected;
    this.#log("info", "mqtt connected (evidence)", {
      url: this.#options.url,
      outboxDepth: this.#outbox.closed ? null : this.#outbox.depth(),
      brokerMaxPacketBytes: this.#brokerMaxPacket,
    });
    void client;
    this.#pump();
    this.#wake();
  }

  /** The link dropped: what was in flight becomes suspect and is sent again from the outbox. */
  #onDataClose(client: MqttClient): void {
    this.#dataUp = false;
    if (this.#inFlight.size === 0 || this.#closed) return;
    const alone = this.#inFlight.size === 1;
    for (const id of this.#inFlight) {
      const strikes = (this.#suspects.get(id) ?? 0) + (alone ? 1 : 0);
      this.#suspects.set(id, strikes);
    }
    const inFlight = [...this.#inFlight];
    this.#inFlight.clear();
    // Take them back from mqtt.js (it would re-send them as they are on
    // reconnect): the pump re-sends them from the outbox, one at a time.
    for (const messageId of Object.keys(client.outgoing)) {
      client.removeOutgoingMessage(Number(messageId));
    }
    this.#cursor = Math.min(this.#cursor, Math.min(...inFlight) - 1);
    if (this.#outbox.closed) return;
    for (const [id, strikes] of this.#suspects) {
      if (strikes >= _MAX_DROPS_ALONE) {
        this.#setAside(
          id,
          `the broker dropped the connection each of the ${strikes} times this record was in flight alone`,
        );
      }
    }
  }

  #publishStatus(client: MqttClient, state: RobotState): void {
    client.publish(
      this.topics.status,
      state,
      { qos: 1, retain: true, properties: _TEXT },
      (error) => {
        if (error) {
          this.#log("warn", "mqtt status not published", {
            state,
            error: error.message,
          });
        }
      },
    );
  }

  #heartbeat(): void {
    const client = this.#control;
    if (client === null || !client.connected || this.#closed) return;
    let payload: Record<string, unknown>;
    try {
      const snapshot = this.#options.status();
      payload = {
        ...snapshot.health,
        robotId: this.robotId,
        state: snapshot.state,
        currentRunId: snapshot.currentRunId,
        ...(snapshot.grpc === undefined ? {} : { grpc: snapshot.grpc }),
        uptimeMs: Math.round(performance.now() - this.#startedAt),
        memory: Deno.memoryUsage(),
        outbox: {
          depth: this.#outbox.depth(),
          oldestAgeMs: this.#outbox.oldestAgeMs(),
          full: this.#outbox.isFull(),
          // Evidence records refused because the outbox was full, since the start.
          rejected: this.#stats.evidenceRefused,
          // Records the broker refused, kept in the outbox file and not sent.
          setAside: this.#outbox.setAsideCount(),
          setAsideRecent: this.#setAsideRecent(),
          inFlight: this.#inFlight.size,
        },
        mqtt: {
          evidenceConnected: this.#data?.connected === true,
          brokerMaxPacketBytes: this.#brokerMaxPacket,
          evidenceRebounded: this.#stats.evidenceRebounded,
        },
        stops: {
          received: this.#stats.stopsReceived,
          malformed: this.#stats.stopsMalformed,
        },
        ts: new Date().toISOString(),
      };
    } catch (error) {
      this.#log("warn", "mqtt heartbeat skipped", {
        error: (error as Error).message,
      });
      return;
    }
    client.publish(this.topics.telemetry, JSON.stringify(payload), {
      qos: 0,
      properties: {
        ..._JSON,
        messageExpiryInterval: this.#options.messageExpirySeconds ??
          Math.max(1, Math.ceil((3 * this.#heartbeatMs) / 1000)),
      },
    });
  }

  /** Publishes outbox rows in order while connected and the window has room. */
  #pump(): void {
    const client = this.#data;
    if (
      client === null || !client.connected || !this.#dataUp || this.#closed ||
      this.#retryTimer !== undefined || this.#outbox.closed
    ) {
      return;
    }
    // After a drop, rows that were in flight go one at a time.
    const max = this.#suspects.size > 0 ? 1 : this.#maxInFlight;
    while (this.#inFlight.size < max) {
      const room = max - this.#inFlight.size;
      let rows: OutboxRecord[] = [];
      for (let id = this.#cursor + 1; rows.length < room; id++) {
        const row = this.#fresh.get(id);
        if (row === undefined) break;
        rows.push(row);
      }
      if (rows.length === 0) {
        rows = this.#outbox.peek(room, { afterId: this.#cursor });
      }
      if (rows.length === 0) break;
      for (const row of rows) {
        this.#cursor = row.id;
        if (this.#inFlight.has(row.id) || this.#pendingAcks.has(row.id)) {
          continue;
        }
        const payload = this.#payloadFor(row);
        if (payload === null) continue;
        this.#inFlight.add(row.id);
        const id = row.id;
        client.publish(
          row.topic,
          // A view, not a copy.
          Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
          {
            qos: 1,
            ...(row.kind === "evidence" ? { properties: _JSON } : {}),
          },
          (error) => this.#onPublished(id, error),
        );
        if (this.#inFlight.size >= max) break;
      }
    }
  }

  /** The bytes to send for `row`: bounded again when the broker takes less; `null` when set aside. */
  #payloadFor(row: OutboxRecord): Uint8Array | null {
    if (this.#fits(row.topic, row.payload.byteLength)) return row.payload;
    const limit = this.#brokerMaxPacket! - _overhead(row.topic);
    if (row.kind === "evidence" && limit > 0) {
      try {
        const record = JSON.parse(_utf8.decode(row.payload)) as EvidenceRecord;
        const bounded = _encoder.encode(
          JSON.stringify(boundRecord(record, limit)),
        );
        if (bounded.byteLength <= limit) {
          this.#stats.evidenceRebounded++;
          this.#log(
            "warn",
            "mqtt evidence cut to the broker's maximum packet size",
            {
              runId: record.runId,
              bytes: row.payload.byteLength,
              sentBytes: bounded.byteLength,
              brokerMaxPacketBytes: this.#brokerMaxPacket,
            },
          );
          return bounded;
        }
      } catch {
        // Not a record we can bound: set it aside below.
      }
    }
    this.#setAside(
      row.id,
      `${row.payload.byteLength} bytes do not fit the broker's maximum packet size of ${this.#brokerMaxPacket} bytes`,
    );
    return null;
  }

  #fits(topic: string, payloadBytes: number): boolean {
    return this.#brokerMaxPacket === null ||
      payloadBytes + _overhead(topic) <= this.#brokerMaxPacket;
  }

  #setAside(id: number, reason: string): void {
    // The older ones, read before this one joins them in the outbox.
    this.#setAsideRecent();
    let row: OutboxRecord | undefined;
    try {
      row = this.#outbox.peek(1, { afterId: id - 1 })[0];
      if (row?.id !== id) row = undefined;
      if (!this.#outbox.setAside(id, reason)) return;
    } catch (error) {
      this.#log("error", "mqtt cannot set aside a refused record", {
        id,
        error: (error as Error).message,
      });
      return;
    }
    this.#suspects.delete(id);
    this.#refusals.delete(id);
    this.#fresh.delete(id);
    this.#stats.evidenceSetAside++;
    const runId = row === undefined ? null : _runIdOf(row.payload);
    const entry = {
      runId,
      reason,
      bytes: row?.payload.byteLength ?? 0,
      at: new Date().toISOString(),
    };

    this.#recentSetAside = [entry, ...this.#setAsideRecent()].slice(0, 10);
    this.#log(
      "error",
      `mqtt evidence set aside: ${reason}; it is kept in the outbox file and the records behind it go on`,
      { id, ...entry, setAside: this.#stats.evidenceSetAside },
    );
    this.#heartbeat();
  }

  #setAsideRecent(): Array<
    { runId: string | null; reason: string; bytes: number; at: string }
  > {
    if (this.#recentSetAside === null) {
      try {
        this.#recentSetAside = this.#outbox.setAsideRecords(10).map((r) => ({
          runId: _runIdOf(r.payload),
          reason: r.reason,
          bytes: r.payload.byteLength,
          at: new Date(r.setAsideMs).toISOString(),
        }));
      } catch {
        this.#recentSetAside = [];
      }
    }
    return this.#recentSetAside;
  }

  #onPublished(id: number, error: Error | undefined): void {
    if (!this.#inFlight.delete(id)) return;
    if (error) {
      if (this.#closed) return;
      this.#stats.publishErrors++;
      const code = (error as { code?: unknown }).code;
      const refusal = typeof code === "number" && code >= 0x80 ? code : null;
      const attempts = (this.#refusals.get(id) ?? 0) + 1;
      this.#refusals.set(id, attempts);
      // Refused for what it is (too large, not authorised, bad topic or
      // payload): set aside at once. Quota or unspecified: a few tries.
      if (
        refusal !== null &&
        (!_TRANSIENT.has(refusal) || attempts >= _MAX_REFUSALS)
      ) {
        this.#setAside(
          id,
          `the broker refused it: ${error.message} (reason code 0x${
            refusal.toString(16)
          })`,
        );
        this.#pump();
        return;
      }
      this.#log("warn", "mqtt evidence not acknowledged; will retry", {
        id,
        error: error.message,
        retryMs: this.#retryMs,
      });
      // Send it (and anything after it not in flight) again, after a pause.
      this.#cursor = Math.min(this.#cursor, id - 1);
      if (this.#retryTimer === undefined) {
        const delay = this.#retryMs;
        this.#retryMs = Math.min(this.#reconnectMax, this.#retryMs * 2);
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#pump();
        }, delay);
      }
      return;
    }
    this.#retryMs = this.#reconnectMin;
    this.#suspects.delete(id);
    this.#refusals.delete(id);
    this.#fresh.delete(id);
    this.#stats.evidenceAcked++;
    this.#pendingAcks.add(id);
    if (this.#closed) {
      this.#flushAcks();
      return;
    }
    // Batch the deletes (one transaction) and the next peek.
    this.#ackTimer ??= setTimeout(() => {
      this.#ackTimer = undefined;
      this.#flushAcks();
      this.#pump();
      this.#wake();
    }, 0);
  }

  #flushAcks(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#pendingAcks.size === 0 || this.#outbox.closed) return;
    const ids = [...this.#pendingAcks];
    try {
      this.#outbox.deleteMany(ids);
      this.#pendingAcks.clear();
    } catch (error) {
      this.#log("error", "mqtt cannot delete acknowledged evidence", {
        error: (error as Error).message,
      });
      return;
    }
    try {
      this.#options.onAcked?.(ids);
    } catch (error) {
      this.#log("warn", "onAcked failed", { error: (error as Error).message });
    }
  }

  /** Every message on `cmd/stop` stops the robot; a malformed one is also recorded as such. */
  #onMessage(topic: string, payload: Uint8Array, packet: IPublishPacket): void {
    if (topic !== this.topics.cmdStop) {
      this.#stats.inboundIgnored++;
      this.#log("warn", "mqtt inbound message ignored: unexpected topic", {
        topic,
        bytes: payload.byteLength,
      });
      return;
    }
    const { reason, malformed } = _readStop(
      payload,
      this.#options.maxInboundBytes ?? 65_536,
    );
    this.#stats.stopsReceived++;
    if (malformed !== null) {
      this.#stats.stopsMalformed++;
      this.#log(
        "warn",
        `mqtt malformed cmd/stop: ${malformed}; stopping anyway`,
        {
          bytes: payload.byteLength,
          malformed: this.#stats.stopsMalformed,
          retained: packet.retain,
        },
      );
    } else {
      this.#log("warn", "mqtt cmd/stop received", {
        reason,
        retained: packet.retain,
      });
    }
    try {
      this.#options.onStop?.(reason, { malformed, retained: packet.retain });
    } catch (error) {
      this.#log("error", "onStop failed", { error: (error as Error).message });
    }
    if (malformed !== null) this.#heartbeat();
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }

  #waitFor(
    done: () => boolean,
    what: string,
    options: WaitOptions,
  ): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          finish(new Error(`Cannot ${what}: timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onAbort = () => finish(options.signal?.reason);
      const check = () => {
        if (this.#closed) {
          finish(
            new ClosedError("the telemetry client", { action: what }),
          );
        } else if (done()) finish();
      };
      const finish = (error?: unknown) => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        this.#waiters.delete(check);
        if (error === undefined) resolve();
        else reject(error);
      };
      if (options.signal?.aborted) return finish(options.signal.reason);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.add(check);
      check();
    });
  }
}

/** MQTT 5 properties of JSON messages. */
const _JSON = {
  contentType: "application/json",
  payloadFormatIndicator: true,
} as const;
/** MQTT 5 properties of the plain-text status. */
const _TEXT = {
  contentType: "text/plain",
  payloadFormatIndicator: true,
} as const;
/** Most appended rows kept at hand for the pump. */
const _MAX_FRESH = 4096;
/** Largest packet the control connection takes: a stop up to this size is received. */
const _CONTROL_MAX_PACKET = 1024 * 1024;
/** Times a row may be in flight alone when the broker drops the link before it is set aside. */
const _MAX_DROPS_ALONE = 3;
/** Times a row may get a transient PUBACK error before it is set aside. */
const _MAX_REFUSALS = 5;
/** PUBACK reason codes worth trying again: unspecified error, quota exceeded. */
const _TRANSIENT = new Set([0x80, 0x97]);
const _encoder = new TextEncoder();
const _utf8 = new TextDecoder();

function _byteLength(text: string): number {
  return _encoder.encode(text).byteLength;
}

const _overheads = new Map<string, number>();

/** Bytes of a QoS 1 PUBLISH besides its payload: fixed header, topic, packet id, properties (JSON type, format, expiry). */
function _overhead(topic: string): number {
  let bytes = _overheads.get(topic);
  if (bytes === undefined) {
    bytes = 64 + _byteLength(topic);
    if (_overheads.size < 64) _overheads.set(topic, bytes);
  }
  return bytes;
}

/** The `runId` of an evidence payload, read from its start without parsing it all. */
function _runIdOf(payload: Uint8Array): string | null {
  const match = /"runId":"([^"\\]{1,200})"/.exec(
    _utf8.decode(payload.subarray(0, 512)),
  );
  return match?.[1] ?? null;
}

/** The reason of a stop, and why its payload is malformed (or `null`). */
function _readStop(
  payload: Uint8Array,
  limit: number,
): { reason: string; malformed: string | null } {
  const malformed = (why: string) => ({
    reason: `malformed MQTT cmd/stop (${why})`,
    malformed: why,
  });
  if (payload.byteLength > limit) {
    return malformed(`payload larger than ${limit} bytes`);
  }
  if (payload.byteLength === 0) {
    return { reason: "mqtt cmd/stop", malformed: null };
  }
  let text: string;
  try {
    text = _decoder.decode(payload);
  } catch {
    return malformed("payload is not UTF-8");
  }
  if (text.trim() === "") return { reason: "mqtt cmd/stop", malformed: null };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return malformed("payload is not JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return malformed("payload is not a JSON object");
  }
  const given = (body as { reason?: unknown }).reason;
  if (given === undefined) return { reason: "mqtt cmd/stop", malformed: null };
  if (typeof given !== "string") return malformed("reason is not a string");
  return { reason: given.slice(0, 1_000), malformed: null };
}

/** Ends `client`: gracefully when nothing is pending, else forced; bounded. */
async function _end(client: MqttClient): Promise<void> {
  const clean = client.connected && Object.keys(client.outgoing).length === 0;
  const ended = await _bounded(
    new Promise<void>((resolve) => client.end(!clean, {}, () => resolve())),
    2_000,
  );
  if (!ended) {
    client.stream?.destroy();
    await _bounded(
      new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
      1_000,
    );
  }
}

function _pem(value: string, what: string): string {
  if (value.includes("-----BEGIN")) return value;
  try {
    return Deno.readTextFileSync(value);
  } catch (error) {
    throw new Error(
      `Cannot read TLS ${what} "${value}": ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Waits for `promise` at most `ms`; true when it settled in time. */
async function _bounded(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
