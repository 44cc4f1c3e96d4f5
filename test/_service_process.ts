/**
 * Test helper: the edge service as a real process, started with the
 * `start` task's own permission flags (as `deno run`, so that a signal or a
 * kill reaches the core itself), with its stderr collected line by line.
 * @module
 */
import { assertEquals } from "./_assert.ts";
import type { TestKey } from "./_edge_fixture.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The `start` task of deno.json, split into its words. */
const START_TASK: string[] = JSON.parse(
  await Deno.readTextFile(`${ROOT}deno.json`),
).tasks.start.split(/\s+/);

/** How long a test waits for the service before it fails (not a timing assertion). */
export const PATIENCE_MS = 30_000;

/** A service process with its stderr collected line by line. */
export class ServiceProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<void>;
  #stderr = "";
  #changed = Promise.withResolvers<void>();
  readonly status: Promise<Deno.CommandStatus>;

  constructor(command: string, args: string[], cwd: string) {
    const child = new Deno.Command(command, {
      args,
      cwd,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#child = child;
    this.status = child.status;
    this.#reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of child.stderr) {
        this.#stderr += decoder.decode(chunk, { stream: true });
        this.#changed.resolve();
        this.#changed = Promise.withResolvers<void>();
      }
      this.#changed.resolve();
    })();
  }

  /** The start task's command line (`deno run …`) in the repository. */
  static task(args: string[]): ServiceProcess {
    return ServiceProcess.taskFlagsIn(ROOT, args);
  }

  /**
   * The start task's command line run from another folder (`cwd`), so that
   * the embedded default's relative `.state` lands there, not in the repo.
   */
  static taskFlagsIn(cwd: string, args: string[]): ServiceProcess {
    const [deno, run, ...rest] = START_TASK;
    assertEquals([deno, run], ["deno", "run"], "deno.json's start task");
    const script = rest.pop()!;
    return new ServiceProcess(Deno.execPath(), [
      "run",
      "--config",
      `${ROOT}deno.json`,
      ...rest,
      `${ROOT}${script}`,
      ...args,
    ], cwd);
  }

  /** Everything the service wrote on stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** The parsed JSON log lines so far. */
  get logs(): { level: string; msg: string }[] {
    return this.#stderr.split("\n").filter((l) => l.startsWith("{")).map(
      (l) => JSON.parse(l),
    );
  }

  /** Waits until `predicate` holds over the log, or fails naming `what`. */
  async waitFor(
    what: string,
    predicate: (process: ServiceProcess) => boolean,
  ): Promise<void> {
    const deadline = Date.now() + PATIENCE_MS;
    while (!predicate(this)) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<"expired">((resolve) => {
        timer = setTimeout(
          () => resolve("expired"),
          Math.max(0, deadline - Date.now()),
        );
      });
      const exited = this.status.then(() => "exited" as const);
      const woke = await Promise.race([
        this.#changed.promise.then(() => "changed" as const),
        expired,
        exited,
      ]);
      clearTimeout(timer);
      if (woke === "expired" || (woke === "exited" && !predicate(this))) {
        await this.#reading;
        throw new Error(
          `Cannot see ${what}: the service ${
            woke === "exited" ? "exited" : "did not log it in time"
          }. stderr:\n${this.#stderr}`,
        );
      }
    }
  }

  /** Waits for the "serving gRPC on host:port" line; returns host:port. */
  async serving(): Promise<string> {
    let address = "";
    await this.waitFor("the service serving gRPC", (p) =>
      p.logs.some((l) => {
        const match = /serving gRPC on (\S+)$/.exec(l.msg);
        if (match) address = match[1]!;
        return match !== null;
      }));
    return address;
  }

  /** Sends SIGTERM; resolves with the exit code once stderr is drained. */
  async terminate(): Promise<number> {
    this.#child.kill("SIGTERM");
    return await this.exited();
  }

  /** The exit code, once stderr is drained. */
  async exited(): Promise<number> {
    const { code } = await this.status;
    await this.#reading;
    return code;
  }

  /** The process id of the service (the core). */
  get pid(): number {
    return this.#child.pid;
  }

  /** SIGKILL, then waits for the exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.status;
    await this.#reading;
  }
}

export async function writeConfig(
  key: TestKey,
  port: number,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const path = `${key.dir}/config.json`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      robotId: "arm-07",
      stateDir: `${key.dir}/state`,
      grpc: { listen: `127.0.0.1:${port}` },
      trustStore: key.trustPath,
      backend: { kind: "sim" },
      ...extra,
    }),
  );
  return path;
}
