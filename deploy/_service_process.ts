/**
 * Test helper: the edge service as a child process, its stderr (JSON log
 * lines) collected, waitable for a line, stoppable with a signal.
 * @module
 */

/** A running service process; dispose to kill it (if still running) and wait. */
export interface _ServiceProcess extends AsyncDisposable {
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Waits for a stderr line matching `pattern`; rejects if the process exits first or after `timeoutMs` (default 30 s). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Starts `argv` with exactly `env` (nothing inherited) in `cwd`. */
export function _spawnService(
  argv: readonly string[],
  options: { env: Record<string, string>; cwd: string },
): _ServiceProcess {
  const [command, ...args] = argv;
  if (command === undefined) {
    throw new TypeError("Cannot start the service: the command is empty");
  }
  const child = new Deno.Command(command, {
    args,
    env: options.env,
    clearEnv: true,
    cwd: options.cwd,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  let exited = false;
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((listener) => listener());
  const reading = (async () => {
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      text += chunk;
      notify();
    }
  })();
  const status = child.status.then(async (s) => {
    await reading;
    exited = true;
    notify();
    return s;
  });

  const waitForLine = (pattern: RegExp, timeoutMs = 30_000) => {
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    const check = () => {
      const line = text.split("\n").find((l) => pattern.test(l));
      if (line !== undefined) resolve(line);
      else if (exited) {
        reject(
          new Error(
            `The service exited before logging ${pattern}; stderr:\n${text}`,
          ),
        );
      }
    };
    const timer = setTimeout(
      () =>
        reject(
          new Error(
            `The service did not log ${pattern} within ${timeoutMs} ms; stderr:\n${text}`,
          ),
        ),
      timeoutMs,
    );
    listeners.add(check);
    check();
    return promise.finally(() => {
      clearTimeout(timer);
      listeners.delete(check);
    });
  };

  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    if (!exited) {
      try {
        child.kill(signal);
      } catch {
        // exited in between
      }
    }
    return await status;
  };

  return {
    pid: child.pid,
    status,
    stderr: () => text,
    waitForLine,
    stop,
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL");
    },
  };
}
