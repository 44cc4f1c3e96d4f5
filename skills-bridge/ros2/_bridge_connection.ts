/**
 * The core's end of one connection to the ROS 2 bridge: a child process on
 * pipes (spawn mode) or a Unix socket; messages are framed by `_ndjson.ts`.
 * @module
 */
import { _encodeNdjson } from "./_ndjson.ts";

/** One connection to a bridge: a spawned child on pipes, or a Unix socket. */
export interface _Connection {
  readonly readable: ReadableStream<Uint8Array>;
  readonly pid: number | null;
  send(message: Record<string, unknown>): void;
  /** Ends the channel (stdin EOF / socket close): the bridge cancels its goals. */
  close(): void;
  /** Ends the bridge now (SIGKILL a child; close a socket). */
  kill(): void;
  /** Settles when the channel (and a child) is gone. */
  readonly done: Promise<void>;
  /** How a spawned child ended, once it has. */
  exitReason(): string | undefined;
}

/** Connects to a bridge listening on the Unix socket `path`. */
export async function _connectSocket(path: string): Promise<_Connection> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    throw new Error(
      `cannot connect to the bridge's socket "${path}": ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  let closed = false;
  let writing = Promise.resolve();
  let resolveDone = () => {};
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const close = () => {
    if (closed) return;
    closed = true;
    writing.finally(() => {
      try {
        conn.close();
      } catch {
        // already closed
      }
      resolveDone();
    });
  };
  return {
    readable: conn.readable,
    pid: null,
    done,
    exitReason: () => undefined,
    send(message) {
      if (closed) return;
      const bytes = _encodeNdjson(message);
      writing = writing.then(async () => {
        if (closed) return;
        try {
          let written = 0;
          while (written < bytes.length) {
            written += await conn.write(bytes.subarray(written));
          }
        } catch {
          // the read side sees the loss
        }
      });
    },
    close,
    kill: close,
  };
}

/** Starts `node <args>` as a bridge on stdin/stdout (stderr inherited). */
export function _spawn(
  node: string,
  args: string[],
  env: Readonly<Record<string, string>>,
): _Connection {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(node, {
      args,
      env: { ...env },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  } catch (error) {
    throw new Error(
      `cannot start the bridge (${node} ${args[0]}): ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  const writer = child.stdin.getWriter();
  let closed = false;
  let exit: string | undefined;
  let writing = Promise.resolve();
  const status = child.status.then((s) => {
    exit = s.signal !== null
      ? `was killed (${s.signal})`
      : `exited with code ${s.code}`;
  });
  const close = () => {
    if (closed) return;
    closed = true;
    writing = writing.then(() => writer.close()).catch(() => {});
  };
  return {
    readable: child.stdout,
    pid: child.pid,
    done: status,
    exitReason: () => exit,
    send(message) {
      if (closed) return;
      const bytes = _encodeNdjson(message);
      writing = writing.then(() => writer.write(bytes)).catch(() => {});
    },
    close,
    kill() {
      close();
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    },
  };
}
