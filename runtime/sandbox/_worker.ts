/// <reference lib="deno.worker" />
/**
 * The sandbox worker: runs one guest program at a time in a QuickJS runtime
 * that is as fresh as the first: the engine's memory is put back after each
 * run to its image taken once the context was ready. Started by the
 * sandbox host with `permissions: "none"`; it sees
 * nothing of the host but its stdin and stdout (the core's lines, which it
 * reads and writes itself) and the shared control buffer (the stop signal).
 *
 * Two facts shape this file. QuickJS only stops a guest from its interrupt
 * handler, which it calls from the interpreter loop, never from inside a C
 * builtin; and on Deno 2.9 `Worker.terminate()` does not stop a thread that
 * is inside WebAssembly. So the guest's environment is trimmed here until no
 * builtin can run for long without allocating (memory-capped) or calling
 * back into the interpreter (interruptible): array methods refuse arrays
 * longer than the verifier's `SANDBOX_LIMITS.maxArrayLength`.
 * @module
 */
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from "quickjs-emscripten-core";
import variant from "@jitl/quickjs-singlefile-mjs-release-sync";
import {
  CTRL,
  CTRL_BYTES,
  type FromSandbox,
  type GuestEnd,
  type GuestLimits,
  HALT,
  MAX_LINE_BYTES,
  RESP_BYTES,
  SANDBOX_PROTOCOL,
  type ToSandbox,
} from "./_protocol.ts";
import { type FromHost, ToHost } from "./_host_protocol.ts";
import { _SyncLineReader } from "./_sync_line_reader.ts";
import { guestPrelude, guestRareGuards } from "./_guest_prelude.js";
import { _compactSource } from "./_compact_source.ts";

/** The prelude's source, as the guest's engine compiles it (in every context). */
const PRELUDE_SOURCE = _compactSource(`(${guestPrelude.toString()})`);
const RARE_GUARDS_SOURCE = _compactSource(guestRareGuards.toString());
import {
  type _CatchSite,
  _catchSites,
  _insertGuards,
} from "./_instrument_catches.ts";

const PROGRAM_FILE = "program.js";
const CHECK_FILE = "check.js";
/** Array methods refuse longer arrays (their loops run in C, uninterruptible). */
/**
 * The sandbox's numeric limits (the verifier's SANDBOX_LIMITS, sent by the
 * core in its hello: this worker may read no file but its own folder's).
 */
let limits: GuestLimits | null = null;
/** Longest error message kept from the guest. */
const MAX_MESSAGE = 2000;
/** The longest error name reported, characters. */
const MAX_NAME = 100;

/** The Object statics a policy may use (the verifier's list). */
const ALLOWED_OBJECT_STATICS = [
  "keys",
  "values",
  "entries",
  "assign",
  "freeze",
  "fromEntries",
];
const ALLOWED_OBJECT_STATICS_JSON = JSON.stringify(ALLOWED_OBJECT_STATICS);

let shared: { ctrl: Int32Array } | null = null;
let quickjs: QuickJSWASMModule | null = null;
/** The host process's resident memory, measured while idle after a run. */
let lastRss = 0;

function post(message: FromSandbox): void {
  self.postMessage(message);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const lines = new _SyncLineReader(Deno.stdin, MAX_LINE_BYTES);

/**
 * The core broke the protocol: tell the main thread, which ends the host
 * (never the core). Never throws: inside a skill call an exception would
 * reach the guest, which could catch it and run on.
 */
function protocolFault(message: string): never {
  post({ type: "protocol", message: `Cannot read from the core: ${message}` });
  blockForever();
}

/**
 * The core's next line, checked; `null` when it closed stdin (it is gone, or
 * retires this host). Blocks this thread until the line is there.
 */
function readMessage(): ToHost | null {
  let line: Uint8Array | null;
  let value: unknown;
  try {
    line = lines.next();
    if (line === null) return null;
    value = JSON.parse(decoder.decode(line));
  } catch (error) {
    protocolFault(
      error instanceof SyntaxError || error instanceof TypeError
        ? `a line is not UTF-8 JSON (${error.message})`
        : (error as Error).message,
    );
  }
  const parsed = ToHost.safeParse(value);
  // The same wording as LineChannel's, written again: a host may read only
  // runtime/sandbox/, so its worker cannot import runtime/channel/.
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    protocolFault(
      `a message does not match the protocol${
        issue
          ? ` at "${issue.path.join(".") || "(root)"}": ${issue.message}`
          : ""
      }`,
    );
  }
  return parsed.data;
}

/** Blocks this thread for good: the host's main thread ends the process. */
function blockForever(): never {
  const word = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(word, 0, 0);
}

/** The core closed stdin: tell the main thread, which ends the host. */
function endOfInput(): never {
  post({ type: "eof" });
  blockForever();
}

/** True once the guest must halt: a halt line or the core's stop signal. */
function haltRequested(): boolean {
  const { ctrl } = shared!;
  return Atomics.load(ctrl, CTRL.halt) !== HALT.none ||
    Atomics.load(ctrl, CTRL.signal) !== HALT.none;
}

/**
 * Writes one host protocol line to the host's stdout, from this thread: the
 * host's main thread is not on the path of a skill call or a run's end.
 */
function writeLine(message: FromHost): void {
  const bytes = encoder.encode(`${JSON.stringify(message)}\n`);
  let written = 0;
  while (written < bytes.length) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

const started = Promise.withResolvers<void>();
self.onmessage = (event: MessageEvent) => {
  const data = event.data as { type: "init"; buffer: SharedArrayBuffer };
  if (data.type !== "init" || shared !== null) return;
  shared = { ctrl: new Int32Array(data.buffer, 0, CTRL_BYTES / 4) };
  started.resolve();
};

/**
 * Reads the core's hello (the sandbox's limits), then says the worker is
 * ready. Returns false when the core went away first.
 */
async function greet(): Promise<boolean> {
  const hello = readMessage();
  if (hello === null) return false;
  if (hello.type !== "hello") {
    protocolFault(`the core's first message is "${hello.type}", not "hello"`);
  }
  if (hello.protocol !== SANDBOX_PROTOCOL) {
    protocolFault(
      `it speaks "${hello.protocol}", not "${SANDBOX_PROTOCOL}"`,
    );
  }
  limits = hello.limits;
  memory = engineMemory(hello.memoryBytes);
  quickjs = await newQuickJSWASMModuleFromVariant(
    newVariant(variant, { wasmMemory: memory }),
  );
  if (hello.skills) {
    prepared = prepareImage(hello.skills);
    rehearseEnds(prepared, hello.skills);
    // V8 optimises what the rehearsals made hot on its background threads,
    // about 100 ms of both cores after a host starts: let that pass before
    // the host takes a run, so it does not compete with the first program
    // (or its stop) for the CPU.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, SETTLE_MS);
  }
  lastRss = Deno.memoryUsage().rss;
  writeLine({ type: "ready" });
  return true;
}

/**
 * Guests that end other than by finishing, for a fresh host to rehearse:
 * halted while spinning, while allocating, and deep in a recursion that
 * catches its stack overflows; one that throws; and (added per host: it
 * needs a skill's name) one whose skill call fails, as a stopped skill does.
 */
const REHEARSALS = [
  "let n = 0;\nwhile (true) { n = (n + 1) % 1000; }",
  'let keep = [];\nwhile (true) {\n  keep.push({ id: keep.length, tag: "x" + keep.length });\n  if (keep.length > 5000) keep = [];\n}',
  'throw new TypeError("rehearsal");',
  "function down(n) { return down(n + 1) + 1; }\nwhile (true) { try { down(0); } catch (e) { e = null; } }",
];
/** How long each rehearsal runs before its deadline halts it, ms; and how often. */
const REHEARSAL_MS = 3;
const REHEARSAL_ROUNDS = 3;
/** The caps of a rehearsal: the executor's stack cap, a modest heap. */
const REHEARSAL_MEMORY_BYTES = 32 * 1024 * 1024;
const REHEARSAL_STACK_BYTES = 256 * 1024;
/** How long a fresh host waits after its rehearsals before it is ready, ms. */
const SETTLE_MS = 150;

/**
 * Runs the paths by which a program ends other than by finishing, a few
 * times each, before the host says it is ready. V8 compiles QuickJS's
 * WebAssembly one function at a time on first use, and our glue when it
 * gets hot: unrehearsed, the first stops a fresh host saw took 5-27 ms to
 * unwind (1-6 ms once warm), past the 2 ms the core waits before its kill,
 * so every stop killed a host and met the next one cold. About 30 ms of CPU
 * per host start.
 */
function rehearseEnds(context: Prepared, skills: string[]): void {
  // Before the run, a prepared context answers every skill call "cancelled".
  const sources = skills.length > 0
    ? [...REHEARSALS, `${skills[0]}();`]
    : REHEARSALS;
  for (let round = 0; round < REHEARSAL_ROUNDS; round++) {
    for (const source of sources) {
      const deadline = Date.now() + REHEARSAL_MS;
      // A run's caps, as the core sets them: without a stack cap a deep
      // recursion would overflow the engine's own stack instead.
      context.runtime.setMemoryLimit(REHEARSAL_MEMORY_BYTES);
      context.memoryLimit = REHEARSAL_MEMORY_BYTES;
      context.runtime.setMaxStackSize(REHEARSAL_STACK_BYTES);
      try {
        context.state.deadline = deadline;
        context.state.armed = true;
        evaluate(context, source, deadline, catchSitesOf(source));
      } finally {
        context.state.armed = false;
        restoreImage(context);
      }
    }
  }
}

/**
 * Takes runs from the core's lines, one at a time, for as long as the worker
 * lives: it blocks on stdin, never on its event loop, so nothing reaches it
 * after the start but those lines and the shared stop signal. A halt or an
 * answer read between runs belongs to a run that ended: it is dropped.
 */
function serve(): never {
  for (;;) {
    const message = readMessage();
    if (message === null) endOfInput();
    switch (message.type) {
      case "run":
        runOne(message);
        break;
      case "answer":
      case "halt":
        break;
      case "hello":
        protocolFault("it sent a second hello");
    }
  }
}

function runOne(request: ToSandbox): void {
  const { ctrl } = shared!;
  Atomics.store(ctrl, CTRL.halt, HALT.none);
  Atomics.store(ctrl, CTRL.busyGen, request.gen);
  try {
    runGuest(request);
  } catch (error) {
    // An engine abort (or a bug here): this instance must not serve again.
    const message = error instanceof Error ? error.message : String(error);
    if (Atomics.load(ctrl, CTRL.busyGen) !== 0) {
      writeLine({
        type: "result",
        gen: request.gen,
        result: { kind: "crashed", message },
        rss: Deno.memoryUsage().rss,
      });
      Atomics.store(ctrl, CTRL.busyGen, 0);
    }
    post({ type: "fatal", message });
    // The host ends this process on the message.
    blockForever();
  }
}

/** Writes run `gen`'s end; the worker is between runs from here. */
function writeResult(
  gen: number,
  end: GuestEnd,
  checks: { expr: string; ok: boolean; message?: string }[],
): void {
  const { ctrl } = shared!;
  // The core sends at most one signal a run: seen, it is spent, and the
  // next run starts clear.
  const signalled = Atomics.exchange(ctrl, CTRL.signal, HALT.none) !==
    HALT.none;
  writeLine({
    type: "result",
    gen,
    result: { kind: "done", end, checks },
    rss: lastRss,
    ...(signalled ? { signalled } : {}),
  });
  Atomics.store(ctrl, CTRL.busyGen, 0);
}

type Path = (string | number)[];
type NonFinite = { path: Path; value: "NaN" | "Infinity" | "-Infinity" };

/** Where plain data holds numbers JSON cannot carry (NaN, ±Infinity). */
function findNonFinite(
  value: unknown,
  path: Path = [],
  found: NonFinite[] = [],
): NonFinite[] {
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

/** A runtime and context with the prelude installed, ready for one guest. */
interface Prepared {
  runtime: QuickJSRuntime;
  vm: QuickJSContext;
  /** The prelude's `classify(error)`: > 0 a host SkillError's call, 0 a genuine engine error, -1 otherwise. */
  classify: QuickJSHandle;
  /** The context's nonce: names the catch guard the source is instrumented with. */
  nonce: string;
  skillsKey: string;
  memoryLimit: number;
  /**
   * The engine's memory as it was once this context was ready, up to the
   * end of the heap, but for most of the C stack: each piece with its offset.
   * `null` for a context that is released after use (a postcondition's).
   */
  image: { at: number; bytes: Uint8Array }[] | null;
  /** The guest's call hook; set when the run starts. */
  state: {
    armed: boolean;
    deadline: number;
    call: (skill: string, args: unknown[] | null, bytes: number) => string;
    /**
     * A skill's answer found no room in the engine's memory: the guest is
     * interrupted at once, may call no skill more, and its run (or check)
     * ends out of memory.
     */
    spent: boolean;
  };
}

/**
 * The next program's runtime and context, built while the worker is idle, so
 * a run pays only for its own source.
 */
let prepared: Prepared | null = null;

function prepare(skills: string[]): Prepared {
  const runtime = quickjs!.newRuntime();
  const state: Prepared["state"] = {
    armed: false,
    deadline: 0,
    call: (skill) => cancelled(skill),
    spent: false,
  };
  const mustStop = () =>
    state.armed &&
    (state.spent || haltRequested() || Date.now() > state.deadline);
  runtime.setInterruptHandler(mustStop);
  const vm = runtime.newContext({
    intrinsics: {
      BaseObjects: true,
      Eval: true,
      JSON: true,
      StringNormalize: true,
    },
  });
  const nonce = Array.from(
    crypto.getRandomValues(new Uint8Array(12)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  const classify = installPrelude(vm, skills, nonce, (skill, argsJson) => {
    if (state.spent) return vm.undefined;
    const answer = argsJson.length > limits!.maxSkillArgumentsJsonBytes
      ? state.call(skill, null, argsJson.length)
      : state.call(skill, decodeArgs(argsJson, nonce), argsJson.length);
    return answerHandle(context, answer);
  }, mustStop);
  const context: Prepared = {
    runtime,
    vm,
    classify,
    nonce,
    skillsKey: skills.join(","),
    memoryLimit: 64 * 1024 * 1024,
    image: null,
    state,
  };
  return context;
}

/**
 * A context for the program runs, and the image of the engine's memory
 * with it ready: after each run {@linkcode restoreImage} copies the image
 * back, so every program starts from the very same bytes (context, runtime,
 * allocator and all) without compiling the prelude again, which costs the
 * host about 1 ms of CPU per run on two cores, the copy (about 1.2 MiB)
 * some 50 µs.
 * Every run on this host so shares the context's nonce, which no guest can
 * read (the catch guard is a non-enumerable global the verifier refuses to
 * name, and nothing in the guest's world lists non-enumerable names).
 */
function prepareImage(skills: string[]): Prepared {
  const context = prepare(skills);
  // What the bindings create on first use, made now so that no handle they
  // keep points into memory a restore takes back.
  for (
    const handle of [
      context.vm.undefined,
      context.vm.null,
      context.vm.true,
      context.vm.false,
      context.vm.global,
    ]
  ) void handle;
  context.runtime.computeMemoryUsage().dispose();
  // The end of the heap in use, from the allocator: reading the memory for
  // it instead would make every page read resident, 11 MiB of them.
  const end = heapEnd();
  const words = new Int32Array(memory.buffer);
  // The longest stretch of untouched pages below that is the C stack (5 MiB
  // in this build, between the static data and the heap): what a run
  // leaves in it lies below the stack pointer, dead, and the stack pointer
  // is a WebAssembly global, back at the stack's top whenever no call into
  // the engine runs. A run's stack reaches no deeper than its cap (256 KiB)
  // below that top. The stretch's first MiB is copied all the same: zeroed
  // static variables may end there (after the static data), and those a
  // run may set. Skipping the rest keeps the copy to the data and the heap
  // in use, and most of the stack's pages out of memory.
  const stack = longestZeroPages(words, end / 4);
  const bytes = new Uint8Array(memory.buffer);
  context.image = (stack === null ? [[0, end]] : [
    [0, stack.start + STATIC_MARGIN_BYTES],
    [stack.end, end],
  ]).map(([from, to]) => ({
    at: from!,
    bytes: bytes.slice(from!, to!),
  }));
  return context;
}

/**
 * Where the heap in use ends, bytes: a block as large as the whole memory
 * fits no free chunk, so it comes from the top of the heap (which grows the
 * memory, untouched, for it) and goes back to it. The emscripten module's
 * allocator is not in quickjs-emscripten's typed API; without it, the last
 * non-zero word of the memory (reading makes every page read resident).
 */
function heapEnd(): number {
  const at = tryAllocate(memory.buffer.byteLength);
  if (at !== null && at !== 0) return at;
  const words = new Int32Array(memory.buffer);
  let last = words.length - 1;
  while (last > 0 && words[last] === 0) last--;
  return (last + 1) * 4;
}

/** 4 KiB, in 32-bit words. */
const PAGE_WORDS = 1024;
/** What of the stack's stretch is copied anyway, from its start. */
const STATIC_MARGIN_BYTES = 1024 * 1024;
/** A stretch of zero pages shorter than this is not taken for the stack. */
const MIN_STACK_BYTES = 2 * STATIC_MARGIN_BYTES;

/** The longest run of all-zero 4 KiB pages in `words[0, endWord)`, bytes; `null` under {@linkcode MIN_STACK_BYTES}. */
function longestZeroPages(
  words: Int32Array,
  endWord: number,
): { start: number; end: number } | null {
  let best: { start: number; end: number } | null = null;
  let runStart = -1;
  const pages = Math.floor(endWord / PAGE_WORDS);
  for (let page = 0; page <= pages; page++) {
    let zero = page < pages;
    for (let i = page * PAGE_WORDS; zero && i < (page + 1) * PAGE_WORDS; i++) {
      if (words[i] !== 0) zero = false;
    }
    if (zero && runStart < 0) runStart = page;
    if (!zero && runStart >= 0) {
      const run = {
        start: runStart * PAGE_WORDS * 4,
        end: page * PAGE_WORDS * 4,
      };
      if (best === null || run.end - run.start > best.end - best.start) {
        best = run;
      }
      runStart = -1;
    }
  }
  return best !== null && best.end - best.start >= MIN_STACK_BYTES
    ? best
    : null;
}

/**
 * Puts the engine's memory back as it was when `context` was ready. Past
 * the image's end the memory keeps what the run left there: the allocator
 * holds nothing there (its state is in the image), and what it hands out
 * is initialised before use (calloc clears, QuickJS clears what it needs).
 */
function restoreImage(context: Prepared): void {
  const bytes = new Uint8Array(memory.buffer);
  for (const piece of context.image!) bytes.set(piece.bytes, piece.at);
  context.state.armed = false;
  context.state.deadline = 0;
  context.state.call = (skill) => cancelled(skill);
  context.state.spent = false;
}

function takePrepared(skills: string[]): Prepared {
  if (prepared !== null && prepared.skillsKey === skills.join(",")) {
    return prepared;
  }
  if (prepared !== null) release(prepared);
  prepared = null;
  prepared = prepareImage(skills);
  return prepared;
}

/** Frees a prepared context: its classify handle, then the context, then the runtime. */
function release(context: Prepared): void {
  using scope = new DisposableStack();
  // A stack frees in reverse: the runtime last.
  scope.use(context.runtime);
  scope.use(context.vm);
  scope.use(context.classify);
}

function runGuest(request: ToSandbox): void {
  if (shared === null) {
    throw new Error("Cannot run: the control buffer was not sent");
  }
  const { limits, gen } = request;
  let seq = 0;
  const context = takePrepared(request.skills);
  let end: GuestEnd;
  try {
    context.runtime.setMemoryLimit(limits.memoryBytes);
    context.memoryLimit = limits.memoryBytes;
    context.runtime.setMaxStackSize(limits.stackBytes);
    context.state.deadline = limits.deadline;
    context.state.call = (skill, args, bytes) => {
      seq += 1;
      return callHost(gen, seq, "program", skill, args, bytes);
    };
    context.state.armed = true;
    end = evaluate(
      context,
      request.source,
      limits.deadline,
      request.catchSites === undefined
        ? catchSitesOf(request.source)
        : checkedSites(request.source, request.catchSites),
    );
  } finally {
    context.state.armed = false;
  }
  // Read before the result clears the signal word.
  const halted = haltRequested();
  // Without checks the end is posted first: putting the engine back is off
  // the run's critical path.
  const checks: { expr: string; ok: boolean; message?: string }[] = [];
  if (request.checks.length === 0) {
    writeResult(gen, end, checks);
    if (halted) pauseAfterHaltedEnd();
  }
  const mayCheck = end.kind === "ok" || (!end.interrupted && !end.engine);
  // A check needs a runtime of its own: a program that left the engine's
  // memory too full for one gets its checks failed, not its host lost.
  const roomForChecks = request.checks.length === 0 ||
    hasRoom(CHECK_ROOM_BYTES);
  if (mayCheck && !haltRequested() && !roomForChecks) {
    for (const expr of request.checks) {
      checks.push({
        expr,
        ok: false,
        message:
          "Cannot evaluate the check: the program left too little memory for it (it holds more than its cap)",
      });
    }
  }
  if (mayCheck && !haltRequested() && roomForChecks) {
    for (const expr of request.checks) {
      const check = prepare(request.querySkills);
      try {
        check.runtime.setMemoryLimit(limits.memoryBytes);
        check.memoryLimit = limits.memoryBytes;
        check.runtime.setMaxStackSize(limits.stackBytes);
        // A check ends by its own bound or the run's deadline, whichever is first.
        check.state.deadline = Math.min(
          Date.now() + limits.checkTimeoutMs,
          limits.deadline,
        );
        check.state.call = (skill, args, bytes) => {
          seq += 1;
          return callHost(gen, seq, "check", skill, args, bytes);
        };
        check.state.armed = true;
        checks.push(evaluateCheck(check, expr));
      } finally {
        check.state.armed = false;
        safeRelease(check);
      }
    }
  }
  if (request.checks.length > 0) {
    // A stop may have come during the checks; writing clears its word.
    const haltedNow = halted || haltRequested();
    writeResult(gen, end, checks);
    if (haltedNow) pauseAfterHaltedEnd();
  }
  // Idle now: put the engine back as it was before the run, off the next
  // run's critical path, and measure the memory the next result reports
  // (not on a run's path either): after every run that did not simply
  // finish (an allocation loop that ran out of memory ends so), and every
  // few runs otherwise.
  restoreImage(context);
  runsSinceRss += 1;
  if (end.kind !== "ok" || runsSinceRss >= RSS_EVERY_RUNS) {
    lastRss = Deno.memoryUsage().rss;
    runsSinceRss = 0;
  }
}

/**
 * How often a host measures its resident memory after runs that finished:
 * each reading costs about 15 µs idle and 50 µs under load, a tenth of a
 * trivial run's work in the host. The core's memory mark retires a host
 * that grew; a reading a few runs late changes only when that happens.
 */
const RSS_EVERY_RUNS = 8;
let runsSinceRss = 0;

/** How long the worker sleeps after a halted run's end before it works on, ms. */
const HALTED_PAUSE_MS = 1;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * A halted run's end is what a stop waits for: the worker gives its CPU up
 * before it puts the engine back for the next run. The scheduler may
 * queue the core's reader behind this thread on its CPU; measured on the
 * build machine, an end written just before that work reached the core
 * 2.6 ms after the halt (median), and 1.0 ms with this pause first.
 */
function pauseAfterHaltedEnd(): void {
  Atomics.wait(pause, 0, 0, HALTED_PAUSE_MS);
}

function safeRelease(context: Prepared): boolean {
  try {
    release(context);
    return true;
  } catch {
    return false;
  }
}

function installPrelude(
  vm: QuickJSContext,
  skills: string[],
  nonce: string,
  call: (skill: string, argsJson: string) => QuickJSHandle,
  mustStop: () => boolean,
): QuickJSHandle {
  // QuickJS asks its interrupt handler only every 10000 branches or calls,
  // so a loop around a builtin that costs milliseconds would run on for
  // seconds after a stop: the prelude asks this before each costly builtin.
  // Every handle made here is freed together when the prelude is in place.
  using scope = new DisposableStack();
  const poll = scope.use(
    vm.newFunction("poll", () => mustStop() ? vm.true : vm.false),
  );
  const host = scope.use(vm.newFunction("host", (nameHandle, argsHandle) => {
    // Only strings cross here; anything else is a bug in the prelude.
    if (
      nameHandle === undefined || argsHandle === undefined ||
      vm.typeof(nameHandle) !== "string" || vm.typeof(argsHandle) !== "string"
    ) {
      return vm.newString(JSON.stringify({
        ok: false,
        code: "invalid_argument",
        message: "Cannot call a skill: malformed host call",
      }));
    }
    return call(vm.getString(nameHandle), vm.getString(argsHandle));
  }));
  // Lists cross as one JSON string each: a handle per item costs two
  // calls into the engine.
  const names = scope.use(vm.newString(JSON.stringify(skills)));
  const allowed = scope.use(vm.newString(ALLOWED_OBJECT_STATICS_JSON));
  const number = (value: number) => scope.use(vm.newNumber(value));
  const fn = scope.use(
    vm.unwrapResult(vm.evalCode(PRELUDE_SOURCE, "prelude.js")),
  );
  return vm.unwrapResult(
    vm.callFunction(
      fn,
      vm.undefined,
      host,
      names,
      scope.use(vm.newString(nonce)),
      allowed,
      number(limits!.maxArrayLength),
      poll,
      number(limits!.maxSkillArgumentDepth),
      number(limits!.maxSkillArgumentValues),
      number(limits!.maxCompareWork),
      scope.use(vm.newString(RARE_GUARDS_SOURCE)),
    ),
  );
}

/** Parses the guest's argument JSON; non-finite numbers come back only with the nonce. */
function decodeArgs(json: string, nonce: string): unknown[] | null {
  const marker = `$nonFinite:${nonce}`;
  try {
    const value = JSON.parse(json, (_key, v) => {
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        const keys = Object.keys(v);
        if (keys.length === 1 && keys[0] === marker) {
          return Number((v as Record<string, string>)[marker]);
        }
      }
      return v;
    });
    return Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * Writes the call to the core and blocks on stdin until its answer, or a
 * halt of this run, arrives. A stale answer (an earlier call's, cancelled
 * by a halt) is dropped.
 */
function callHost(
  gen: number,
  seq: number,
  phase: "program" | "check",
  skill: string,
  args: unknown[] | null,
  argsBytes: number,
): string {
  if (haltRequested()) return cancelled(skill);
  const nonFinite = args === null ? [] : findNonFinite(args);
  writeLine({
    type: "call",
    gen,
    seq,
    phase,
    skill,
    args,
    argsBytes,
    ...(nonFinite.length > 0 ? { nonFinite } : {}),
  });
  for (;;) {
    const message = readMessage();
    if (message === null) endOfInput();
    if (message.type === "halt") {
      if (message.gen !== gen) continue;
      // Halting: do not wait for the skill; the executor cancels it.
      Atomics.store(shared!.ctrl, CTRL.halt, message.reason);
      return cancelled(skill);
    }
    if (message.type !== "answer") {
      protocolFault(
        `a "${message.type}" message came while call ${seq} of run ${gen} waits for its answer`,
      );
    }
    if (message.gen !== gen || message.seq !== seq) continue;
    const text = message.json.length > RESP_BYTES
      ? JSON.stringify({
        ok: false,
        code: "backend_error",
        message:
          `Cannot return the skill's result: ${message.json.length} characters of JSON, over the limit of ${RESP_BYTES}`,
      })
      : message.json;
    // A failure carries its call's sequence number into the SkillError the
    // prelude throws, so that a label can name the very call it came from.
    return text.startsWith('{"ok":false') && text.endsWith("}")
      ? `${text.slice(0, -1)},"seq":${seq}}`
      : text;
  }
}

function cancelled(skill: string): string {
  return JSON.stringify({
    ok: false,
    code: "cancelled",
    message: `Cannot finish ${skill}: the run is halting`,
  });
}

/**
 * Catch sites of the programs this worker ran last, by source: parsing a
 * program to find them costs about a millisecond, which a cached program
 * run again pays once (as it is verified once per delivery), not per run.
 */
const catchSitesBySource = new Map<string, _CatchSite[]>();
const CATCH_SITES_KEPT = 16;

function catchSitesOf(source: string): _CatchSite[] {
  let sites = catchSitesBySource.get(source);
  if (sites === undefined) {
    sites = _catchSites(source);
    if (catchSitesBySource.size >= CATCH_SITES_KEPT) {
      catchSitesBySource.delete(catchSitesBySource.keys().next().value!);
    }
  } else {
    catchSitesBySource.delete(source);
  }
  catchSitesBySource.set(source, sites);
  return sites;
}

/**
 * The core's catch sites for `source`, once they are seen to fit it: in
 * order, each just after a `{`. Sites that do not are the core's fault: the
 * host ends, as for any other malformed message.
 */
function checkedSites(
  source: string,
  sites: readonly _CatchSite[],
): readonly _CatchSite[] {
  let last = 0;
  for (const { offset } of sites) {
    if (
      offset <= last || offset > source.length || source[offset - 1] !== "{"
    ) {
      protocolFault(
        `a catch site at offset ${offset} does not follow a "{" of the source in order`,
      );
    }
    last = offset;
  }
  return sites;
}

/**
 * Evaluates `source` in `context` with a stop guard first in each catch
 * clause at `sites` (the core's, from its verifier, or found here).
 */
function evaluate(
  context: Prepared,
  source: string,
  deadline: number,
  sites: readonly _CatchSite[],
): GuestEnd {
  const { vm } = context;
  const result = vm.evalCode(
    _insertGuards(source, sites, `__capCaught_${context.nonce}`),
    PROGRAM_FILE,
  );
  if (context.state.spent) {
    (result.error ?? result.value).dispose();
    return OUT_OF_MEMORY;
  }
  if (result.error === undefined) {
    result.value.dispose();
    return { kind: "ok" };
  }
  const end = describeError(
    context,
    result.error,
    deadline,
    source.split("\n").length,
  );
  result.error.dispose();
  return end;
}

/**
 * A skill's answer as a string in the engine, or `undefined` (a constant:
 * it takes no memory) when the engine's memory has no room for it; the
 * guest then ends out of memory, at the interrupt the prelude waits for.
 * quickjs-emscripten copies a string in through the engine's allocator and
 * checks neither that block nor the string made from it: with no room, it
 * would write the answer at address 0, over the engine's own data, or hand
 * the guest an exception as a value. So the allocator is asked for room
 * for both first, and the engine's own count, which may stand at the run's
 * limit while its memory has room, is lifted for the string (the guest's
 * next allocation meets the limit again).
 */
function answerHandle(context: Prepared, answer: string): QuickJSHandle {
  const { runtime, vm, state } = context;
  const room = 2 * (utf8Length(answer) + 1) + OOM_MARGIN_BYTES;
  if (!hasRoom(room)) {
    state.spent = true;
    return vm.undefined;
  }
  runtime.setMemoryLimit(context.memoryLimit + room);
  try {
    return vm.newString(answer);
  } finally {
    runtime.setMemoryLimit(context.memoryLimit);
  }
}

/** How a guest that ran out of the engine's memory ends. */
const OUT_OF_MEMORY: GuestEnd = {
  kind: "error",
  name: "InternalError",
  message: "out of memory",
  code: null,
  line: null,
  interrupted: false,
  engine: true,
};

/** The bytes `text` takes in UTF-8 (a lone surrogate as three, as the engine's copy writes it). */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) {
      bytes += 1;
      continue;
    }
    const next = text.charCodeAt(i + 1);
    if (unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      // A pair: four bytes for its two units.
      bytes += 2;
      i++;
    } else bytes += 2;
  }
  return bytes;
}

function evaluateCheck(
  context: Prepared,
  expr: string,
): { expr: string; ok: boolean; message?: string } {
  const { vm } = context;
  const result = vm.evalCode(`(${expr}\n)`, CHECK_FILE);
  if (context.state.spent) {
    (result.error ?? result.value).dispose();
    return { expr, ok: false, message: "the check ran out of memory" };
  }
  if (result.error !== undefined) {
    const end = describeError(
      context,
      result.error,
      context.state.deadline,
      1,
    );
    result.error.dispose();
    const message = end.kind === "error"
      ? (end.interrupted
        ? "the check did not finish in time"
        : `${end.name}: ${end.message}`)
      : "failed";
    return { expr, ok: false, message };
  }
  const truthy = vm.typeof(result.value) === "object"
    ? !vm.sameValue(result.value, vm.null)
    : Boolean(vm.dump(result.value));
  result.value.dispose();
  return truthy
    ? { expr, ok: true }
    : { expr, ok: false, message: "evaluated to a falsy value" };
}

/**
 * Reads name, message, code and line of a thrown guest value. Property reads
 * go through `getProp`, which may run a guest getter — inside the guest; the
 * interrupt handler is disarmed by now, so this runs under a short deadline
 * of its own. Whether the error is the engine's own (not one the guest made
 * up, copied or rewrote) or a SkillError the host raised is asked of the
 * prelude's `classify`: a prototype check the guest cannot fake (nothing in
 * its world can set a prototype), the catch clauses' record of which engine
 * errors the guest ever held, and the list of SkillErrors the host issued.
 */
function describeError(
  context: Prepared,
  error: QuickJSHandle,
  deadline: number,
  lines: number,
): GuestEnd {
  const { vm } = context;
  const deadlinePassed = Date.now() > deadline;
  const type = vm.typeof(error);
  context.state.deadline = Date.now() + 50;
  context.state.armed = true;
  // A guest that ran out of memory left none to inspect its error with.
  context.runtime.setMemoryLimit(context.memoryLimit + 16 * 1024 * 1024);
  try {
    if (
      vm.sameValue(error, vm.null) &&
      (nearMemoryLimit(context) || memorySpent())
    ) {
      // QuickJS throws null when it cannot even allocate its own error.
      return OUT_OF_MEMORY;
    }
    // Facts the host can stand on: the engine raised this error and no
    // catch clause ever held it, or the host raised this very SkillError.
    const { verdict, stack: madeStack } = classifyError(context, error);
    const engine = verdict === 0;
    const skillSeq = verdict > 0 ? verdict : null;
    if (type !== "object" || vm.sameValue(error, vm.null)) {
      return {
        kind: "error",
        name: "Error",
        message: `uncaught ${type} ${shortString(vm, error)}`,
        code: null,
        line: null,
        interrupted: false,
        engine: false,
      };
    }
    // Every field is the guest's to set, to any length: each is cut here,
    // so the line to the core stays short (the core parses it on its
    // event loop, and ends a host whose line is over its limit).
    const name = (stringProp(vm, error, "name") ?? "Error").slice(0, MAX_NAME);
    const message = (stringProp(vm, error, "message") ?? "").slice(
      0,
      MAX_MESSAGE,
    );
    const code = engine ? null : stringProp(vm, error, "code");
    // The line where the engine made the error; of one the guest made (or
    // changed), the line its stack names, if the program has that line.
    const stack = verdict >= 0
      ? madeStack ?? ""
      : (stringProp(vm, error, "stack") ?? "").slice(0, MAX_MESSAGE);
    const found = /program\.js:(\d+)/.exec(stack);
    const line = found && (verdict >= 0 || Number(found[1]) <= lines)
      ? Number(found[1])
      : null;
    const interrupted = engine && message === "interrupted" &&
      (deadlinePassed || haltRequested());
    return {
      kind: "error",
      name,
      message,
      code: code === null ? null : code.slice(0, 64),
      line,
      interrupted,
      engine,
      skillSeq,
    };
  } finally {
    context.state.armed = false;
  }
}

/**
 * The allocator holds the run's whole limit but for the last
 * {@linkcode OOM_MARGIN_BYTES}: QuickJS throws null for its own
 * out-of-memory only when it cannot allocate even the small error it would
 * throw instead, so a null thrown with more room than that is the guest's.
 * (QuickJS's estimate of the memory its objects use is no measure: at an
 * out-of-memory under a 4 MiB limit it said 19.8 MB.)
 */
function nearMemoryLimit(context: Prepared): boolean {
  try {
    // The allocator's own count is in the dump only (the usage object
    // quickjs-emscripten builds leaves it out): "memory allocated <count> <bytes>".
    const allocated = /memory allocated\s+\d+\s+(\d+)/.exec(
      context.runtime.dumpMemoryUsage(),
    );
    return allocated !== null &&
      Number(allocated[1]) >= context.memoryLimit - OOM_MARGIN_BYTES;
  } catch {
    return false;
  }
}

/** What an allocation QuickJS could not make may need at most, bytes, when it throws null. */
const OOM_MARGIN_BYTES = 64 * 1024;

/**
 * The prelude's verdict on the error that ended the program (see
 * {@linkcode Prepared.classify}), and for a verdict ≥ 0 the error's stack
 * as the engine made it (`null` when it had none).
 */
function classifyError(
  context: Prepared,
  error: QuickJSHandle,
): { verdict: number; stack: string | null } {
  const { vm } = context;
  const unknown = { verdict: -1, stack: null };
  try {
    const result = vm.callFunction(context.classify, vm.undefined, error);
    if (result.error !== undefined) {
      result.error.dispose();
      return unknown;
    }
    using answer = result.value;
    using verdictHandle = vm.getProp(answer, 0);
    using stackHandle = vm.getProp(answer, 1);
    const verdict = vm.typeof(verdictHandle) === "number"
      ? vm.getNumber(verdictHandle)
      : -1;
    if (!Number.isInteger(verdict) || verdict < 0) return unknown;
    const stack = vm.typeof(stackHandle) === "string"
      ? vm.getString(stackHandle).slice(0, MAX_MESSAGE)
      : null;
    return { verdict, stack };
  } catch {
    return unknown;
  }
}

function stringProp(
  vm: QuickJSContext,
  handle: QuickJSHandle,
  key: string,
): string | null {
  try {
    using result = vm.getProp(handle, key);
    return vm.typeof(result) === "string" ? vm.getString(result) : null;
  } catch {
    return null;
  }
}

function shortString(vm: QuickJSContext, handle: QuickJSHandle): string {
  const type = vm.typeof(handle);
  if (type === "string") {
    return JSON.stringify(vm.getString(handle).slice(0, 80));
  }
  if (type === "number") return String(vm.getNumber(handle));
  return "";
}

/** The engine's memory at the start, 64 KiB pages: its static data, C stack and the prepared context. */
const INITIAL_PAGES = 256;
/** What the engine may take beyond a run's cap: the error it reports it with, and its own slack. */
const ENGINE_MARGIN_BYTES = 4 * 1024 * 1024;

/**
 * The engine's memory, this worker's own so that it can be restored, made
 * once the core said the runs' cap: this build of QuickJS cannot tell the
 * size of the blocks it allocates (it counts 8 bytes a block), so its own
 * memory limit does not hold for large blocks; the memory's maximum does.
 */
function engineMemory(memoryBytes: number): WebAssembly.Memory {
  const maximum = INITIAL_PAGES +
    Math.ceil((memoryBytes + ENGINE_MARGIN_BYTES) / 65536);
  return new WebAssembly.Memory({
    initial: INITIAL_PAGES,
    maximum: Math.min(maximum, 32768),
  });
}

/**
 * Allocates `bytes` from the engine's allocator and frees them at once:
 * where the block was (0 when it could not be had), or `null` when the
 * allocator is out of reach (it is not in quickjs-emscripten's typed API).
 */
function tryAllocate(bytes: number): number | null {
  const engine = (quickjs as unknown as {
    module?: { _malloc?: unknown; _free?: unknown };
  } | null)?.module;
  if (
    typeof engine?._malloc !== "function" || typeof engine._free !== "function"
  ) return null;
  const at = (engine._malloc as (bytes: number) => number)(bytes);
  if (at !== 0) (engine._free as (at: number) => void)(at);
  return at;
}

/**
 * Whether the engine's allocator can still hand out `bytes` (its memory
 * grows up to its maximum for them): asked, not estimated.
 */
function hasRoom(bytes: number): boolean {
  return tryAllocate(bytes) !== 0;
}

/**
 * Whether the engine's memory is spent: the allocator cannot hand out
 * {@linkcode OOM_MARGIN_BYTES} more (a fact the guest cannot fake, unlike a
 * thrown null).
 */
function memorySpent(): boolean {
  return !hasRoom(OOM_MARGIN_BYTES);
}

/** What a check's own runtime and context need, bytes, with room to run. */
const CHECK_ROOM_BYTES = 2 * 1024 * 1024;

let memory: WebAssembly.Memory;

// Last, once every declaration above is initialised: greet (which loads
// the engine), serve.
await started.promise;
if (!(await greet())) endOfInput();
serve();
