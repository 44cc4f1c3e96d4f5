/**
 * A sandbox host: the process the core starts, with no Deno permissions at
 * all, to hold one QuickJS worker. It only forwards runs, skill answers
 * and halts from the core (stdin) into the worker's shared buffer; the
 * worker writes its skill calls and each run's end to stdout itself.
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

/** Tells the core this host cannot serve, and ends it a moment later. */
function giveUp(message: string): void {
  send({ type: "fatal", message });
  // Give the line a moment to leave, then go: the core replaces this host.
  setTimeout(() => Deno.exit(1), 20);
}

function fail(message: string): never {
  giveUp(message);
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
        const started = new _WorkerSandbox({
          limits: message.limits,
          onDeath: (reason, gen) => {
            // The worker writes its own results; one that died in a run
            // could not: say how that run ended, then go.
            if (gen !== null) {
              send({
                type: "result",
                gen,
                result: { kind: "crashed", message: reason },
                rss: Deno.memoryUsage().rss,
              });
            }
            giveUp(`The sandbox worker is gone: ${reason}`);
          },
        });
        sandbox = started;
        started.ready.then(
          () => send({ type: "ready" }),
          (error) =>
            giveUp(`Cannot start the sandbox worker: ${error.message}`),
        );
        break;
      }
      case "run": {
        if (sandbox === null) fail("Cannot run: the core sent no hello");
        const { type: _, ...request } = message;
        try {
          sandbox!.run(request);
        } catch (error) {
          send({
            type: "result",
            gen: message.gen,
            result: { kind: "crashed", message: (error as Error).message },
            rss: Deno.memoryUsage().rss,
          });
        }
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
