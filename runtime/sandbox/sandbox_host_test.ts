import { assert, assertEquals } from "../../test/_assert.ts";
import { processState } from "../../test/_process_state.ts";
import {
  type CatchSite,
  SANDBOX_LIMITS,
  verifyProgram,
} from "../../verifier/mod.ts";
import { TABLETOP_API } from "../../skills-bridge/mod.ts";
import { HALT, SANDBOX_PROTOCOL } from "./_protocol.ts";
import { HELPER_V8_FLAGS } from "../channel/mod.ts";
import {
  HOST_V8_FLAGS,
  type SandboxCall,
  SandboxHost,
  type SandboxResult,
} from "./sandbox_host.ts";

function assertMatch(text: string, pattern: RegExp): void {
  assert(pattern.test(text), `expected ${pattern} in ${JSON.stringify(text)}`);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A host process spoken to line by line, as the core speaks to it. */
class RawHost implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffered = "";

  constructor() {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        "--unstable-worker-options",
        `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
        `--allow-read=${new URL(".", import.meta.url).pathname}`,
        new URL("./host_main.ts", import.meta.url).pathname,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    this.#reader = this.child.stdout.getReader();
  }

  async send(line: string | object): Promise<void> {
    const text = typeof line === "string" ? line : JSON.stringify(line);
    await this.#writer.write(encoder.encode(`${text}\n`));
  }

  /** The next line the host wrote, parsed. */
  async next(): Promise<Record<string, unknown>> {
    for (;;) {
      const at = this.#buffered.indexOf("\n");
      if (at >= 0) {
        const line = this.#buffered.slice(0, at);
        this.#buffered = this.#buffered.slice(at + 1);
        return JSON.parse(line);
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("the host closed its stdout");
      this.#buffered += decoder.decode(value, { stream: true });
    }
  }

  async greet(): Promise<void> {
    assertEquals((await this.next()).type, "hello");
    await this.send({
      type: "hello",
      protocol: SANDBOX_PROTOCOL,
      limits: { ...SANDBOX_LIMITS },
      memoryBytes: 64 * 1024 * 1024,
    });
    assertEquals((await this.next()).type, "ready");
  }

  run(
    gen: number,
    source: string,
    catchSites?: { offset: number; name: string }[],
  ): Promise<void> {
    return this.send({
      type: "run",
      gen,
      source,
      ...(catchSites ? { catchSites } : {}),
      checks: [],
      skills: ["say"],
      querySkills: [],
      limits: {
        memoryBytes: 32 * 1024 * 1024,
        stackBytes: 256 * 1024,
        deadline: Date.now() + 60_000,
        checkTimeoutMs: 1000,
      },
    });
  }

  #ended: Promise<{ status: Deno.CommandStatus; stderr: string }> | null = null;

  /** Closes stdin; resolves with the exit status and everything on stderr. */
  end(): Promise<{ status: Deno.CommandStatus; stderr: string }> {
    this.#ended ??= this.#end();
    return this.#ended;
  }

  async #end(): Promise<{ status: Deno.CommandStatus; stderr: string }> {
    await this.#writer.close().catch(() => {});
    const [status, stderr] = await Promise.all([
      this.child.status,
      new Response(this.child.stderr).text(),
    ]);
    await this.#reader.cancel().catch(() => {});
    return { status, stderr };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#ended === null) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await this.end();
  }
}

const OK = JSON.stringify({ ok: true, value: null });

Deno.test("a halt or an answer left over from an earlier run does not reach the next one", async () => {
  await using host = new RawHost();
  await host.greet();
  await host.run(1, 'say("a");');
  const first = await host.next();
  assertEquals([first.type, first.gen, first.seq], ["call", 1, 1]);
  await host.send({ type: "answer", gen: 1, seq: 1, json: OK });
  const end = await host.next();
  assertEquals(end.type, "result");
  assertEquals((end.result as { end: unknown }).end, { kind: "ok" });
  // Late lines for run 1: a halt, and a second answer to its call.
  await host.send({ type: "halt", gen: 1, reason: HALT.estop });
  await host.send({ type: "answer", gen: 1, seq: 1, json: OK });
  await host.run(2, 'say("b"); say("c");');
  for (const seq of [1, 2]) {
    const call = await host.next();
    assertEquals([call.type, call.gen, call.seq, call.args], [
      "call",
      2,
      seq,
      [seq === 1 ? "b" : "c"],
    ]);
    await host.send({ type: "answer", gen: 2, seq, json: OK });
  }
  const second = await host.next();
  assertEquals([second.type, second.gen], ["result", 2]);
  assertEquals((second.result as { end: unknown }).end, { kind: "ok" });
  const { status } = await host.end();
  assertEquals(status.code, 0);
});

Deno.test("the host puts its stop guard where the core's catch sites say, without parsing", async () => {
  await using host = new RawHost();
  await host.greet();
  // A site in a plain block is no catch clause: the guard's call shows it
  // was put there, and that the host took the core's word for it.
  const source = 'if (true) { say("a"); }';
  await host.run(1, source, [{ offset: source.indexOf("{") + 1, name: "e" }]);
  const end = await host.next();
  assertEquals(end.type, "result");
  const guest = (end.result as { end: Record<string, unknown> }).end;
  assertEquals([guest.kind, guest.name], ["error", "ReferenceError"]);
  assertMatch(String(guest.message), /'e' is not defined|e is not defined/);
});

Deno.test("a halt line reaches a guest waiting in a skill call", async () => {
  await using host = new RawHost();
  await host.greet();
  await host.run(1, 'say("a");\nwhile (true) {}');
  assertEquals((await host.next()).type, "call");
  await host.send({ type: "halt", gen: 1, reason: HALT.timeout });
  const end = await host.next();
  assertEquals(end.type, "result");
  // The call fails "cancelled" at once; the guest ends with that error.
  const guest = (end.result as { end: Record<string, unknown> }).end;
  assertEquals([guest.kind, guest.code], ["error", "cancelled"]);
});

Deno.test("a malformed line ends the sandbox host with a message naming the fault", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["not JSON", "{oops", /a line is not UTF-8 JSON/],
    [
      "a message off the protocol",
      JSON.stringify({ type: "run", gen: -1 }),
      /does not match the protocol at "gen"/,
    ],
    [
      "a run while a call waits for its answer",
      "RUN",
      /a "run" message came while call 1 of run 1 waits for its answer/,
    ],
    [
      "catch sites that do not fit the run's source",
      "SITES",
      /a catch site at offset 3 does not follow a "\{" of the source/,
    ],
  ];
  for (const [name, line, message] of cases) {
    await t.step(name, async () => {
      await using host = new RawHost();
      await host.greet();
      if (line === "RUN") {
        await host.run(1, 'say("a");');
        assertEquals((await host.next()).type, "call");
        await host.run(2, 'say("b");');
      } else if (line === "SITES") {
        await host.run(1, 'say("a");', [{ offset: 3, name: "e" }]);
      } else {
        await host.send(line);
      }
      const { status, stderr } = await host.end();
      assertEquals(status.code, 3);
      assertMatch(stderr, message);
    });
  }
});

Deno.test("a host whose first message is not the core's hello ends with exit 3", async () => {
  await using host = new RawHost();
  assertEquals((await host.next()).type, "hello");
  await host.send({ type: "halt", gen: 0, reason: HALT.estop });
  const { status, stderr } = await host.end();
  assertEquals(status.code, 3);
  assertMatch(stderr, /the core's first message is "halt", not "hello"/);
});

const LIMITS = {
  memoryBytes: 32 * 1024 * 1024,
  stackBytes: 256 * 1024,
  deadline: 0,
  checkTimeoutMs: 1000,
};

function runOn(
  host: SandboxHost,
  source: string,
  onCall: (call: SandboxCall) => void,
  catchSites?: CatchSite[],
) {
  return host.run({
    source,
    ...(catchSites ? { catchSites } : {}),
    checks: [],
    skills: ["say"],
    querySkills: [],
    limits: { ...LIMITS, deadline: Date.now() + 60_000 },
  }, onCall);
}

/**
 * Starts `source` on `host` once it is warm, answering its calls, and
 * resolves when the first call was answered (the guest runs on past it),
 * with the run's result, which the caller then ends.
 */
async function runPastFirstCall(
  host: SandboxHost,
  source: string,
  catchSites?: CatchSite[],
): Promise<{ result: Promise<SandboxResult> }> {
  await host.ready;
  const called = Promise.withResolvers<void>();
  const result = runOn(host, source, (call) => {
    host.respond(call, OK);
    called.resolve();
  }, catchSites);
  await called.promise;
  // Wrapped: an async function returning the promise itself would wait for it.
  return { result };
}

Deno.test("an e-stop halts a guest that runs and calls nothing; the host serves the next run", async () => {
  await using host = new SandboxHost({ skills: ["say"] });
  const { result } = await runPastFirstCall(
    host,
    'say("go");\nlet n = 0;\nwhile (true) { n = n + 1; }',
  );
  host.halt(HALT.estop);
  // Halted by its interrupt handler (the signal), not killed.
  assertInterrupted(await result);
  // The signal was reported with the run's end and cleared: the next run
  // is not halted by it.
  assert(host.alive);
  const next = await runOn(
    host,
    'say("again");\nlet s = 0;\nfor (let i = 0; i < 100000; i++) { s = s + i; }',
    (call) => host.respond(call, OK),
  );
  assertEquals(next, { kind: "done", end: { kind: "ok" }, checks: [] });
});

Deno.test("an e-stop halts a guest that catches its halt, with the verifier's catch sites", async () => {
  await using host = new SandboxHost({ skills: ["say"] });
  const source =
    'say("go");\nwhile (true) { try { while (true) {} } catch (e) { e = null; } }';
  const catchSites: CatchSite[] = [];
  const report = verifyProgram(source, { api: TABLETOP_API, catchSites });
  assert(report.ok, JSON.stringify(report.issues));
  assertEquals(catchSites, [{
    offset: source.indexOf("{ e = null") + 1,
    name: "e",
  }]);
  const { result } = await runPastFirstCall(host, source, catchSites);
  host.halt(HALT.estop);
  assertInterrupted(await result);
});

Deno.test("the hard kill settles the run at once and the host's process ends by SIGKILL", async () => {
  await using host = new SandboxHost({ skills: ["say"] });
  // A long builtin: the interrupt handler is never reached, only the kill works.
  const { result } = await runPastFirstCall(
    host,
    'const s = "a".repeat(4000000);\nconst t = s + "b";\nsay("go");\nlet n = 0;\nwhile (true) { if (s < t) n = n + 1; }',
  );
  host.terminate();
  // Settled by the kill itself (SIGSTOP: the host runs nothing from then on),
  // not by the process's end, which follows.
  assertEquals(await result, { kind: "killed" });
  assertEquals(host.alive, false);
  const status = await host.exited;
  assertEquals(status.signal, "SIGKILL");
  // A second kill of a gone host is harmless.
  host.terminate();
});

/**
 * Starts a guest that spins past its first call on a host that waits
 * `thawWaitMs` for a halted guest, and asks it to halt (an e-stop).
 */
async function haltedSpinner(
  source: string,
  thawWaitMs = 30_000,
): Promise<{ host: SandboxHost; result: Promise<SandboxResult> }> {
  const host = new SandboxHost({ skills: ["say"], thawWaitMs });
  const { result } = await runPastFirstCall(host, source);
  host.halt(HALT.estop);
  return { host, result };
}

/** The run ended by its guest's interrupt handler: halted, not killed. */
function assertInterrupted(end: SandboxResult): void {
  assertEquals(end.kind, "done");
  if (end.kind === "done") {
    assertEquals(end.end.kind, "error");
    if (end.end.kind === "error") assertEquals(end.end.interrupted, true);
  }
}

const SPINNER = 'say("go");\nlet n = 0;\nwhile (true) { n = n + 1; }';

Deno.test("a hard kill of a halted guest thaws its host, which takes runs again once the guest ended by itself", async () => {
  // A long wait, so a busy machine cannot turn this into a kill.
  const { host, result } = await haltedSpinner(SPINNER);
  await using _ = host;
  const pid = host.pid;
  // The grace missed: stopped before its guest could halt.
  host.terminate();
  assertEquals(await result, { kind: "killed" });
  assertEquals(host.alive, false, "no run while it is stopped");
  const recovering = host.recovering;
  assert(recovering !== null, "it waits for its guest's own end");
  assertEquals(await recovering, true);
  assertEquals(host.recovering, null);
  assert(host.alive);
  assertEquals(host.pid, pid);
  // The guest's calls after its kill went nowhere; the next run is served.
  const next = await runOn(host, 'say("again");', (c) => host.respond(c, OK));
  assertEquals(next, { kind: "done", end: { kind: "ok" }, checks: [] });
});

Deno.test("a halted guest whose end was on its way when the hard kill came keeps a running host", async () => {
  const { host, result } = await haltedSpinner(SPINNER);
  await using _ = host;
  // This thread does not read the host's lines meanwhile: its guest ends
  // (the signal) and its end waits in the pipe when the kill comes.
  const until = Date.now() + 1000;
  while (Date.now() < until) { /* the core is busy */ }
  host.terminate();
  assertEquals(await result, { kind: "killed" });
  assertEquals(await host.recovering, true);
  const state = await processState(host.pid);
  assert(state !== "" && !state.startsWith("T"), `host state ${state}`);
  const next = await runOn(host, 'say("again");', (c) => host.respond(c, OK));
  assertEquals(next, { kind: "done", end: { kind: "ok" }, checks: [] });
});

Deno.test("a halted guest that cannot end by itself after its hard kill loses its host by SIGKILL", async () => {
  // In a long builtin the interrupt handler is not reached within the wait.
  const { host, result } = await haltedSpinner(
    'const s = "a".repeat(4000000);\nconst t = s + "b";\nsay("go");\nlet n = 0;\nwhile (true) { if (s < t) n = n + 1; }',
    200,
  );
  await using _ = host;
  host.terminate();
  assertEquals(await result, { kind: "killed" });
  assertEquals(await host.recovering, false);
  assertEquals(host.alive, false);
  assertEquals((await host.exited).signal, "SIGKILL");
});

Deno.test("a second hard kill of a stopped host kills it at once", async () => {
  const { host, result } = await haltedSpinner(SPINNER);
  await using _ = host;
  host.terminate();
  const recovering = host.recovering;
  host.terminate();
  assertEquals(await result, { kind: "killed" });
  assertEquals(await recovering, false);
  assertEquals((await host.exited).signal, "SIGKILL");
});

Deno.test("an e-stop of a guest waiting in a skill call needs no signal", async () => {
  await using host = new SandboxHost({ skills: ["say"] });
  await host.ready;
  const called = Promise.withResolvers<{ gen: number; seq: number }>();
  const result = runOn(
    host,
    'say("go");\nwhile (true) {}',
    (call) => called.resolve(call),
  );
  const call = await called.promise;
  host.halt(HALT.estop);
  // The answer comes after the halt, as the executor's cancelled skill does.
  host.respond(
    call,
    JSON.stringify({ ok: false, code: "cancelled", message: "stopped" }),
  );
  const end = await result;
  assertEquals(end.kind, "done");
  if (end.kind === "done" && end.end.kind === "error") {
    assertEquals(end.end.code, "cancelled");
  }
  assert(host.alive);
  const next = await runOn(host, 'say("again");', (c) => host.respond(c, OK));
  assertEquals(next, { kind: "done", end: { kind: "ok" }, checks: [] });
});

Deno.test("a sandbox host starts with the helpers' V8 flags (and its stack's) and no permission flag but its read", async () => {
  await using host = new SandboxHost();
  await host.ready;
  // Another process's /proc needs all permissions in Deno: ask ps.
  const out = await new Deno.Command("ps", {
    args: ["-o", "args=", "-p", String(host.pid)],
    stdout: "piped",
  }).output();
  const args = new TextDecoder().decode(out.stdout).trim().split(/\s+/);
  assert(args.includes(HOST_V8_FLAGS), `flags: ${args.join(" ")}`);
  assert(HOST_V8_FLAGS.startsWith(`${HELPER_V8_FLAGS},`));
  assertEquals(
    args.filter((a) => a.startsWith("--allow-")).map((a) => a.split("=")[0]),
    ["--allow-read"],
  );
});

Deno.test("each run on a host starts from the same engine state: nothing a program leaves reaches the next", async () => {
  await using host = new SandboxHost({ skills: ["say"] });
  await host.ready;
  const said: unknown[] = [];
  const onCall = (
    call: { gen: number; seq: number; args: unknown[] | null },
  ) => {
    said.push(call.args?.[0]);
    host.respond(call, OK);
  };
  const first = await runOn(
    host,
    [
      'var leaked = "run 1";',
      "counter = 41;",
      "Array.prototype.extra = function () { return 1; };",
      'String.prototype.trim = function () { return "poisoned"; };',
      "Object.freeze(Array.prototype);",
      'say("one");',
    ].join("\n"),
    onCall,
  );
  assertEquals(first, { kind: "done", end: { kind: "ok" }, checks: [] });
  // A run that ends out of memory leaves the engine as a run that finished.
  const hog = await host.run({
    source:
      'let keep = [];\nwhile (true) { keep.push("x".repeat(1000) + keep.length); }',
    checks: [],
    skills: ["say"],
    querySkills: [],
    limits: {
      ...LIMITS,
      memoryBytes: 8 * 1024 * 1024,
      deadline: Date.now() + 60_000,
    },
  }, onCall);
  assertEquals(hog.kind, "done");
  if (hog.kind === "done") assertEquals(hog.end.kind, "error");
  const second = await runOn(
    host,
    [
      "const seen = [typeof leaked, typeof counter, typeof [].extra];",
      "Array.prototype.mine = 2;",
      'seen.push(" x ".trim(), [].mine);',
      "const a = [];",
      "a.push(1);",
      "say(JSON.stringify(seen.concat(a)));",
    ].join("\n"),
    onCall,
  );
  assertEquals(second, { kind: "done", end: { kind: "ok" }, checks: [] });
  assertEquals(said, [
    "one",
    JSON.stringify(["undefined", "undefined", "undefined", "x", 2, 1]),
  ]);
  assert(host.alive);
});
