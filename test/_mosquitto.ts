/**
 * Test helper: a real Mosquitto broker on a free loopback port, stoppable and
 * restartable on the same port.
 * @module
 */
import { join } from "node:path";
import { findMosquitto } from "./_preflight.ts";

/** The broker binary, found as the test preflight finds it. */
function _mosquittoBin(): string {
  const bin = findMosquitto();
  if (bin === null) {
    throw new Error(
      "Cannot start mosquitto: it is not installed (not in MOSQUITTO_BIN, PATH or /usr/sbin); run: deno run --allow-read --allow-env --allow-run --allow-sys=uid test/_preflight.ts",
    );
  }
  return bin;
}

/** Options of {@linkcode startMosquitto}. */
export interface StartMosquittoOptions {
  /** Serve MQTT over TLS with this certificate and key (PEM files); the URL is then `mqtts://`. */
  tls?: { certFile: string; keyFile: string };
  /** How long to wait for the port to accept connections. Default 10 s. */
  readyTimeoutMs?: number;
  /** Mosquitto configuration lines appended after the generated ones (e.g. a bridge section). */
  extraConfig?: string;
  signal?: AbortSignal;
}

/** A running (or stopped) Mosquitto; dispose to stop it and remove its files. */
export interface Mosquitto extends AsyncDisposable {
  /** `mqtt://127.0.0.1:<port>` (`mqtts://` with TLS) */
  readonly url: string;
  readonly port: number;
  /** True while the broker process runs. */
  readonly running: boolean;
  /** Stops the broker (SIGTERM, then SIGKILL after 5 s); idempotent. Sessions and queued QoS 1 messages are saved. */
  stop(): Promise<void>;
  /** Starts it again on the same port after {@linkcode Mosquitto.stop}; no-op while running. */
  start(): Promise<void>;
  /** Starts it again on the same port (stops it first if running). */
  restart(): Promise<void>;
  /** The broker's log so far (for failure messages). */
  log(): string;
}

/** Finds a free TCP port on 127.0.0.1 by listening on port 0, then closing. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Starts Mosquitto on a free 127.0.0.1 port with anonymous access; persistence
 * lives in a temp dir, so persistent sessions survive {@linkcode Mosquitto.restart}.
 */
export async function startMosquitto(
  options: StartMosquittoOptions = {},
): Promise<Mosquitto> {
  const dir = await Deno.makeTempDir({ prefix: "cap-mosquitto-" });
  // Started as root, mosquitto drops to the "mosquitto" user: let it write
  // its log and persistence file here.
  await Deno.chmod(dir, 0o777);
  const port = freePort();
  const logPath = join(dir, "mosquitto.log");
  const confPath = join(dir, "mosquitto.conf");
  await Deno.writeTextFile(
    confPath,
    [
      `listener ${port} 127.0.0.1`,
      ...(options.tls === undefined ? [] : [
        `certfile ${options.tls.certFile}`,
        `keyfile ${options.tls.keyFile}`,
      ]),
      "allow_anonymous true",
      // As a robot's broker should: no Nagle delay on small packets.
      "set_tcp_nodelay true",
      "persistence true",
      `persistence_location ${dir}/`,
      "autosave_interval 0",
      "max_queued_messages 0",
      "max_inflight_messages 0",
      `log_dest file ${logPath}`,
      "log_type error",
      "log_type warning",
      "log_type notice",
      ...(options.extraConfig === undefined ? [] : [options.extraConfig]),
      "",
    ].join("\n"),
  );
  const broker = new _Mosquitto(dir, confPath, logPath, port, options);
  try {
    await broker.start();
  } catch (error) {
    await broker[Symbol.asyncDispose]();
    throw error;
  }
  return broker;
}

class _Mosquitto implements Mosquitto {
  readonly url: string;
  readonly port: number;
  #dir: string;
  #confPath: string;
  #logPath: string;
  #options: StartMosquittoOptions;
  #child: Deno.ChildProcess | null = null;

  constructor(
    dir: string,
    confPath: string,
    logPath: string,
    port: number,
    options: StartMosquittoOptions,
  ) {
    this.#dir = dir;
    this.#confPath = confPath;
    this.#logPath = logPath;
    this.port = port;
    this.url = `${
      options.tls === undefined ? "mqtt" : "mqtts"
    }://127.0.0.1:${port}`;
    this.#options = options;
  }

  get running(): boolean {
    return this.#child !== null;
  }

  log(): string {
    try {
      return Deno.readTextFileSync(this.#logPath);
    } catch {
      return "";
    }
  }

  async start(): Promise<void> {
    if (this.#child !== null) return;
    const child = new Deno.Command(_mosquittoBin(), {
      args: ["-c", this.#confPath],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#child = child;
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });
    const timeoutMs = this.#options.readyTimeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    while (true) {
      this.#options.signal?.throwIfAborted();
      if (exited) {
        this.#child = null;
        const s = await status;
        throw new Error(
          `Cannot start mosquitto on port ${this.port}: it exited with code ${s.code}; log: ${this.log()}`,
        );
      }
      try {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: this.port,
        });
        conn.close();
        return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(
          `Cannot start mosquitto on port ${this.port}: not accepting connections after ${timeoutMs} ms; log: ${this.log()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
        resolve();
      }, 5_000);
    });
    try {
      await Promise.race([child.status, killed]);
      await child.status;
    } finally {
      clearTimeout(timer);
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}
