/**
 * Test helper: an MQTT 5 client that records what it receives and waits for
 * conditions with a bounded deadline.
 * @module
 */
import mqtt from "mqtt";
import type { IClientOptions, MqttClient } from "mqtt";
import { Buffer } from "node:buffer";

/** One received message. */
export interface ProbeMessage {
  topic: string;
  payload: Uint8Array;
  text: string;
  retain: boolean;
  /** The MQTT 5 properties it carried (content type, payload format, expiry…). */
  properties: Record<string, unknown>;
}

/** Options of {@linkcode connectProbe}. */
export interface ProbeOptions {
  /** Topic filters to subscribe to with QoS 1. */
  subscribe?: string[];
  /** A fixed client id with a persistent session (survives broker restarts when the broker persists). */
  persistentId?: string;
}

/** A connected probe client; dispose to end it. */
export interface Probe extends AsyncDisposable {
  readonly client: MqttClient;
  readonly messages: ProbeMessage[];
  /** Waits until `predicate(messages)` holds; throws after `timeoutMs` (default 15 s). */
  waitFor(
    predicate: (messages: ProbeMessage[]) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<void>;
  publish(
    topic: string,
    payload: string | Uint8Array,
    options?: { retain?: boolean },
  ): Promise<void>;
}

const _decoder = new TextDecoder();

/** Connects a probe to `url` and subscribes to `options.subscribe`. */
export async function connectProbe(
  url: string,
  options: ProbeOptions = {},
): Promise<Probe> {
  const clientOptions: IClientOptions = {
    protocolVersion: 5,
    reconnectPeriod: 100,
    connectTimeout: 5_000,
  };
  if (options.persistentId !== undefined) {
    clientOptions.clientId = options.persistentId;
    clientOptions.clean = false;
    clientOptions.properties = { sessionExpiryInterval: 600 };
  }
  const client = await mqtt.connectAsync(url, clientOptions);
  client.on("error", () => {});
  const messages: ProbeMessage[] = [];
  const listeners = new Set<() => void>();
  client.on("message", (topic, payload, packet) => {
    const bytes = new Uint8Array(payload);
    messages.push({
      topic,
      payload: bytes,
      text: _decoder.decode(bytes),
      retain: packet.retain,
      properties: { ...packet.properties },
    });
    for (const listener of listeners) listener();
  });
  for (const filter of options.subscribe ?? []) {
    await client.subscribeAsync(filter, { qos: 1 });
  }
  return {
    client,
    messages,
    waitFor(predicate, what, timeoutMs = 15_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(
              `Timed out after ${timeoutMs} ms waiting for ${what}; got ${messages.length} messages`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          if (!predicate(messages)) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
        check();
      });
    },
    async publish(topic, payload, publishOptions = {}) {
      await client.publishAsync(
        topic,
        typeof payload === "string" ? payload : Buffer.from(payload),
        { qos: 1, retain: publishOptions.retain ?? false },
      );
    },
    async [Symbol.asyncDispose]() {
      await client.endAsync(true);
    },
  };
}
