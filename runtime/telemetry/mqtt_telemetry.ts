import mqtt from "mqtt";
import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt";
import { Buffer } from "node:buffer";
import { type Outbox, OutboxFullError } from "./outbox.ts";

/** The robot's state as the retained `status` topic shows it (contract). */
export type RobotState = "online" | "running" | "stopped" | "offline";

/** What the heartbeat reports about the service, read at each beat. */
export interface TelemetrySnapshot {
  state: RobotState;
  currentRunId: string | null;
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
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  /** Verify the broker's certificate. Default true. */
  rejectUnauthorized?: boolean | undefined;
}

/** Options of {@linkcode MqttTelemetry}. */
export interface MqttTelemetryOptions {
  /** Broker URL: `mqtt://host:1883`, `mqtts://host:8883`, `ws://…`, `wss://…`. */
  url: string;
  robotId: string;
  /** Topic prefix; topics are `<prefix>/robots/<robotId>/…`. Default `cap/v1`. */
  topicPrefix?: string | undefined;
  /** MQTT client id. Default `cap-edge-<robotId>`, fixed so that a restarted service takes over its old session (the old connection's will fires before the new `online`). */
  clientId?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
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
  /** Inbound messages larger than this are ignored. Default 65536 bytes. */
  maxInboundBytes?: number | undefined;
  /** The service's state, read for each heartbeat. */
  status: () => TelemetrySnapshot;
  /** Called for each valid `cmd/stop` message with its reason. */
  onStop?: ((reason: string) => void) | undefined;
  log?: TelemetryLog | undefined;
}

/** The topics one robot uses (contract). */
export interface MqttTopics {
  status: string;
  telemetry: string;
  evidence: string;
  cmdStop: string;
  /** `<prefix>/robots/<robotId>/runs/<runId>/events` */
  runEvents(runId: string): string;
}

/** Counters of a {@linkcode MqttTelemetry}. */
export interface MqttTelemetryStats {
  connected: boolean;
  connects: number;
  /** Evidence messages acknowledged by the broker (and deleted from the outbox). */
  evidenceAcked: number;
  evidenceInFlight: number;
  /** Evidence records refused because the outbox was full (not queued; the caller keeps them). */
  evidenceRefused: number;
  publishErrors: number;
  inboundIgnored: number;
  stopsReceived: number;
}

/** Options of {@linkcode MqttTelemetry.waitConnected} and {@linkcode MqttTelemetry.waitDrained}. */
export interface WaitOptions {
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
 * The robot's MQTT link: retained status with an `offline` last will,
 * periodic telemetry, run events, evidence from the durable outbox
 * (at-least-once: a row is deleted only after the broker's PUBACK) and the
 * inbound `cmd/stop`.
 *
 * Evidence flow: {@linkcode MqttTelemetry.enqueueEvidence} appends to the
 * outbox (durable before it returns), then a pump publishes the oldest rows in
 * order with QoS 1, at most `maxInFlight` unacknowledged at once, only while
 * connected. mqtt.js keeps no offline queue (`queueQoSZero: false`, nothing is
 * published while disconnected); packets already sent and unacknowledged when
 * the link drops are re-sent by mqtt.js on reconnect, and every row still in
 * the outbox is sent again after a process restart.
 */
export class MqttTelemetry implements AsyncDisposable {
  readonly robotId: string;
  readonly topicPrefix: string;
  readonly topics: MqttTopics;
  #options: MqttTelemetryOptions;
  #outbox: Outbox;
  #log: TelemetryLog;
  #client: MqttClient | null = null;
  #state: RobotState = "online";
  #startedAt = 0;
  #closing: Promise<void> | null = null;
  #closed = false;
  #subscribed = false;
  #inFlight = new Set<number>();
  #pendingAcks = new Set<number>();
  #cursor = 0;
  #reconnectMs: number;
  #heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryMs: number;
  #waiters = new Set<() => void>();
  #stats: MqttTelemetryStats = {
    connected: false,
    connects: 0,
    evidenceAcked: 0,
    evidenceInFlight: 0,
    evidenceRefused: 0,
    publishErrors: 0,
    inboundIgnored: 0,
    stopsReceived: 0,
  };

  constructor(options: MqttTelemetryOptions) {
    const prefix = options.topicPrefix ?? "cap/v1";
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
    this.#reconnectMs = this.#reconnectMin;
    this.#retryMs = this.#reconnectMin;
    const base = `${prefix}/robots/${options.robotId}`;
    this.topics = {
      status: `${base}/status`,
      telemetry: `${base}/telemetry`,
      evidence: `${base}/evidence`,
      cmdStop: `${base}/cmd/stop`,
      runEvents: (runId) => {
        if (!_SEGMENT.test(runId)) {
          throw new TypeError(
            `Cannot build the run events topic: runId must be a topic segment without "/", "+" or "#", got "${runId}"`,
          );
        }
        return `${base}/runs/${runId}/events`;
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

  /** True while connected to the broker. */
  get connected(): boolean {
    return this.#client?.connected === true;
  }

  /** Counters. */
  stats(): MqttTelemetryStats {
    return {
      ...this.#stats,
      connected: this.connected,
      evidenceInFlight: this.#inFlight.size,
    };
  }

  /** Starts connecting in the background (and keeps reconnecting); returns at once. */
  start(): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource(
        `Cannot start MQTT telemetry for "${this.robotId}": it is closed`,
      );
    }
    if (this.#client !== null) return;
    this.#startedAt = performance.now();
    const tls = this.#options.tls;
    const clientOptions: IClientOptions = {
      protocolVersion: 5,
      clientId: this.#options.clientId ?? `cap-edge-${this.robotId}`,
      clean: true,
      reconnectPeriod: this.#reconnectMs,
      connectTimeout: 10_000,
      keepalive: 30,
      queueQoSZero: false,
      resubscribe: false,
      will: {
        topic: this.topics.status,
        payload: Buffer.from("offline"),
        qos: 1,
        retain: true,
      },
      properties: {
        maximumPacketSize: Math.max(
          1024,
          (this.#options.maxInboundBytes ?? 65_536) + 1024,
        ),
      },
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
    this.#client = client;
    client.on("connect", () => this.#onConnect(client));
    client.on("reconnect", () => {
      // Capped exponential backoff with jitter: mqtt.js reads
      // options.reconnectPeriod each time it schedules the next attempt.
      this.#reconnectMs = Math.min(this.#reconnectMax, this.#reconnectMs * 2);
      const jitter = 0.8 + Math.random() * 0.4;
      client.options.reconnectPeriod = Math.round(this.#reconnectMs * jitter);
      this.#log("debug", "mqtt reconnecting", {
        nextDelayMs: client.options.reconnectPeriod,
      });
    });
    client.on("close", () => {
      if (this.#stats.connected) {
        this.#log("warn", "mqtt connection lost", {
          inFlight: this.#inFlight.size,
        });
      }
      this.#stats.connected = false;
      this.#subscribed = false;
    });
    client.on("error", (error) => {
      this.#log("warn", "mqtt error", { error: error.message });
    });
    client.on("message", (topic, payload, packet) => {
      try {
        this.#onMessage(topic, payload, packet);
      } catch (error) {
        this.#stats.inboundIgnored++;
        this.#log("warn", "mqtt inbound message ignored: handler failed", {
          topic,
          error: (error as Error).message,
        });
      }
    });
    this.#heartbeatTimer = setInterval(
      () => this.#heartbeat(),
      this.#options.heartbeatMs ?? 5_000,
    );
  }

  /** Resolves when connected and subscribed to `cmd/stop` (at once if already). */
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
    const client = this.#client;
    if (client === null || !client.connected || this.#closed) return;
    this.#publishStatus(client, state);
  }

  /** Publishes a run event (QoS 0) on `runs/<runId>/events` if connected; dropped otherwise. */
  publishRunEvent(runId: string, event: unknown): void {
    const topic = this.topics.runEvents(runId);
    const client = this.#client;
    if (client === null || !client.connected || this.#closed) {
      this.#log("debug", "mqtt run event dropped: not connected", { runId });
      return;
    }
    client.publish(topic, JSON.stringify(event), { qos: 0 }, (error) => {
      if (error) {
        this.#log("debug", "mqtt run event not sent", {
          runId,
          error: error.message,
        });
      }
    });
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
    if (this.#closed) {
      throw new Deno.errors.BadResource(
        `Cannot enqueue evidence for "${this.robotId}": the telemetry client is closed`,
      );
    }
    let result: { id: number };
    try {
      result = this.#outbox.append(
        this.topics.evidence,
        JSON.stringify(record),
        { kind: "evidence" },
      );
    } catch (error) {
      if (error instanceof OutboxFullError) {
        this.#stats.evidenceRefused++;
        const runId = (record as { runId?: unknown }).runId;
        this.#log("error", "mqtt evidence refused: the outbox is full", {
          runId: typeof runId === "string" ? runId : null,
          depth: error.depth,
          bytes: error.bytes,
          refused: this.#stats.evidenceRefused,
        });
        this.#heartbeat();
      }
      throw error;
    }
    this.#pump();
    return result;
  }

  /** Publishes `offline` (retained) if connected, then disconnects; idempotent. The outbox stays open. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing ??= this.#close();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#flushAcks();
    for (const wake of this.#waiters) wake();
    const client = this.#client;
    if (client === null) return;
    if (client.connected) {
      await _bounded(
        new Promise<void>((resolve) => {
          client.publish(
            this.topics.status,
            "offline",
            { qos: 1, retain: true },
            () => resolve(),
          );
        }),
        2_000,
      );
    }
    const clean = client.connected &&
      Object.keys(client.outgoing).length === 0;
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
    this.#flushAcks();
    this.#stats.connected = false;
  }

  #onConnect(client: MqttClient): void {
    if (this.#closed) return;
    // Small packets (status, PUBACKs, evidence) must not wait for Nagle's
    // algorithm and the peer's delayed ACK (~40 ms on Linux).
    (client.stream as { setNoDelay?: (noDelay: boolean) => void })
      .setNoDelay?.(true);
    this.#stats.connected = true;
    this.#stats.connects++;
    this.#reconnectMs = this.#reconnectMin;
    client.options.reconnectPeriod = this.#reconnectMs;
    this.#log("info", "mqtt connected", {
      url: this.#options.url,
      outboxDepth: this.#outbox.closed ? null : this.#outbox.depth(),
    });
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
    this.#pump();
    this.#wake();
  }

  #publishStatus(client: MqttClient, state: RobotState): void {
    client.publish(
      this.topics.status,
      state,
      { qos: 1, retain: true },
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
    const client = this.#client;
    if (client === null || !client.connected || this.#closed) return;
    let payload: Record<string, unknown>;
    try {
      const snapshot = this.#options.status();
      payload = {
        robotId: this.robotId,
        state: snapshot.state,
        currentRunId: snapshot.currentRunId,
        uptimeMs: Math.round(performance.now() - this.#startedAt),
        memory: Deno.memoryUsage(),
        outbox: {
          depth: this.#outbox.depth(),
          oldestAgeMs: this.#outbox.oldestAgeMs(),
          full: this.#outbox.isFull(),
          // Evidence records refused because the outbox was full, since the start.
          rejected: this.#stats.evidenceRefused,
        },
        ts: new Date().toISOString(),
      };
    } catch (error) {
      this.#log("warn", "mqtt heartbeat skipped", {
        error: (error as Error).message,
      });
      return;
    }
    client.publish(this.topics.telemetry, JSON.stringify(payload), { qos: 0 });
  }

  /** Publishes outbox rows in order while connected and the window has room. */
  #pump(): void {
    const client = this.#client;
    if (
      client === null || !client.connected || this.#closed ||
      this.#retryTimer !== undefined || this.#outbox.closed
    ) {
      return;
    }
    const max = this.#maxInFlight;
    while (this.#inFlight.size < max) {
      const rows = this.#outbox.peek(max, { afterId: this.#cursor });
      if (rows.length === 0) break;
      for (const row of rows) {
        this.#cursor = row.id;
        if (this.#inFlight.has(row.id) || this.#pendingAcks.has(row.id)) {
          continue;
        }
        this.#inFlight.add(row.id);
        const id = row.id;
        client.publish(
          row.topic,
          Buffer.from(row.payload),
          { qos: 1 },
          (error) => this.#onPublished(id, error),
        );
        if (this.#inFlight.size >= max) break;
      }
    }
  }

  #onPublished(id: number, error: Error | undefined): void {
    if (!this.#inFlight.delete(id)) return;
    if (error) {
      if (this.#closed) return;
      this.#stats.publishErrors++;
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
    try {
      this.#outbox.deleteMany(this.#pendingAcks);
      this.#pendingAcks.clear();
    } catch (error) {
      this.#log("error", "mqtt cannot delete acknowledged evidence", {
        error: (error as Error).message,
      });
    }
  }

  #onMessage(topic: string, payload: Uint8Array, packet: IPublishPacket): void {
    const ignore = (reason: string) => {
      this.#stats.inboundIgnored++;
      this.#log("warn", `mqtt inbound message ignored: ${reason}`, {
        topic,
        bytes: payload.byteLength,
      });
    };
    if (topic !== this.topics.cmdStop) return ignore("unexpected topic");
    const limit = this.#options.maxInboundBytes ?? 65_536;
    if (payload.byteLength > limit) {
      return ignore(`payload larger than ${limit} bytes`);
    }
    let reason = "mqtt cmd/stop";
    if (payload.byteLength > 0) {
      let text: string;
      try {
        text = _decoder.decode(payload);
      } catch {
        return ignore("payload is not UTF-8");
      }
      if (text.trim() !== "") {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return ignore("payload is not JSON");
        }
        if (typeof body !== "object" || body === null || Array.isArray(body)) {
          return ignore("payload is not a JSON object");
        }
        const given = (body as { reason?: unknown }).reason;
        if (given !== undefined) {
          if (typeof given !== "string") {
            return ignore("reason is not a string");
          }
          reason = given.slice(0, 1_000);
        }
      }
    }
    this.#stats.stopsReceived++;
    this.#log("warn", "mqtt cmd/stop received", {
      reason,
      retained: packet.retain,
    });
    try {
      this.#options.onStop?.(reason);
    } catch (error) {
      this.#log("error", "onStop failed", { error: (error as Error).message });
    }
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
            new Deno.errors.BadResource(
              `Cannot ${what}: the telemetry client is closed`,
            ),
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
