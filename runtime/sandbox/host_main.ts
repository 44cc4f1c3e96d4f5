/**
 * A sandbox host: the process the core starts, with no Deno permissions at
 * all, to hold one QuickJS worker. It only forwards: runs and skill answers
 * from the core (stdin) to the worker, skill calls and ends back (stdout).
 * It exits when its stdin closes, so it never outlives the core; the core's
 * hard kill is SIGKILL of this process, which frees the guest's CPU in any
 * state (`Worker.terminate()` cannot stop a thread inside WebAssembly).
 * @module
 */
import { LineChannel } from "../channel/mod.ts";
import { FromHost, SANDBOX_PROTOCOL, ToHost } from "./_host_protocol.ts";
import { _WorkerSandbox } from "./_worker_sandbox.ts";

const channel = new LineChannel<ToHost, FromHost>(
  Deno.stdin,
  Deno.stdout,
  { name: "the core", schema: ToHost, maxLineBytes: 8 * 1024 * 1024 },
);
const send = (message: FromHost) => void channel.send(message);
send({ type: "hello", protocol: SANDBOX_PROTOCOL, pid: Deno.pid });

/** The worker, started when the core's hello brings the sandbox's limits. */
let sandbox: _WorkerSandbox | null = null;

type Path = (string | number)[];

/** Where plain data holds numbers JSON cannot carry (NaN, ±Infinity). */
function findNonFinite(
  value: unknown,
  path: Path = [],
  found: { path: Path; value: "NaN" | "Infinity" | "-Infinity" }[] = [],
): { path: Path; value: "NaN" | "Infinity" | "-Infinity" }[] {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      found.push({
        path,
        value: Number.isNaN(value)
          ? "NaN"
          : value > 0
          ? "Infinity"
          : "-Infinity",
      });
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => findNonFinite(item, [...path, i], found));
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      findNonFinite(item, [...path, key], found);
    }
  }
  return found;
}

function fail(message: string): never {
  send({ type: "fatal", message });
  // Give the line a moment to leave, then go: the core replaces this host.
  setTimeout(() => Deno.exit(1), 20);
  throw new Error(message);
}

try {
  for await (const message of channel) {
    switch (message.type) {
      case "hello": {
        if (message.protocol !== SANDBOX_PROTOCOL) {
          fail(`Cannot serve protocol "${message.protocol}"`);
        }
        if (sandbox !== null) break;
        const started = new _WorkerSandbox(message.limits);
        sandbox = started;
        started.ready.then(
          () => send({ type: "ready" }),
          (error) => fail(`Cannot start the sandbox worker: ${error.message}`),
        );
        break;
      }
      case "run": {
        if (sandbox === null) fail("Cannot run: the core sent no hello");
        const { type: _, ...request } = message;
        const current = sandbox!;
        current.run(request, (call) => {
          const nonFinite = findNonFinite(call.args);
          send(nonFinite.length > 0 ? { ...call, nonFinite } : call);
        }).then((result) => {
          send({
            type: "result",
            gen: message.gen,
            result,
            rss: Deno.memoryUsage().rss,
          });
          if (!current.alive) {
            // The worker died with the run: this host is done.
            setTimeout(() => Deno.exit(1), 20);
          }
        });
        break;
      }
      case "answer":
        sandbox?.respond(message, message.json);
        break;
      case "halt":
        sandbox?.halt(message.reason as 0 | 1 | 2 | 3);
        break;
    }
  }
} catch (error) {
  // A malformed message: the core is at fault; say so and end.
  console.error(`sandbox host: ${(error as Error).message}`);
  Deno.exit(3);
}
// stdin closed: the core is gone or retired this host.
Deno.exit(0);
