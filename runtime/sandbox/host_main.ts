/**
 * A sandbox host: the process the core starts, with no Deno permissions at
 * all, to hold one QuickJS worker. The worker reads the core's lines (runs,
 * skill answers, halts) from this process's stdin and writes its calls and
 * each run's end to stdout itself; this main thread writes only the hello,
 * and the end of a run whose worker died. An e-stop also arrives as
 * SIGUSR2, which this thread turns into the worker's signal word, so a guest
 * that is running (not reading stdin) stops too. The host exits when its
 * stdin closes, so it never outlives the core; the core's hard kill is
 * SIGSTOP of this process, then SIGKILL, which frees the guest's CPU in any
 * state (`Worker.terminate()` cannot stop a thread inside WebAssembly).
 * @module
 */
import type { FromHost } from "./_host_protocol.ts";
import { SANDBOX_PROTOCOL } from "./_protocol.ts";
import { _WorkerSandbox } from "./_worker_sandbox.ts";

const encoder = new TextEncoder();

/** One line to the core, written whole (the worker is not writing then). */
function send(message: FromHost): void {
  const bytes = encoder.encode(`${JSON.stringify(message)}\n`);
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

/** Tells the core this host cannot serve, and ends it. */
function giveUp(message: string): never {
  try {
    send({ type: "fatal", message });
  } catch {
    // The core is gone.
  }
  Deno.exit(1);
}

send({ type: "hello", protocol: SANDBOX_PROTOCOL, pid: Deno.pid });

const sandbox = new _WorkerSandbox({
  onDeath: (reason, gen) => {
    // The worker writes its own results; one that died in a run could not:
    // say how that run ended, then go.
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
  // stdin closed: the core is gone or retired this host.
  onEndOfInput: () => Deno.exit(0),
  onProtocolError: (message) => {
    // A malformed message: the core is at fault; say so and end.
    console.error(`sandbox host: ${message}`);
    Deno.exit(3);
  },
});

// SIGUSR2, not SIGUSR1: on SIGUSR1 Deno, like Node.js, opens its inspector
// (a debugger on 127.0.0.1:9229), which no sandbox may ever have.
Deno.addSignalListener("SIGUSR2", () => sandbox.signal());
