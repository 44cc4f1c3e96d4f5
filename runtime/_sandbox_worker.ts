/// <reference lib="deno.worker" />
/**
 * The sandbox worker: runs one guest program at a time in a fresh QuickJS
 * runtime. Started by the executor with `permissions: "none"`; it sees
 * nothing of the host but the messages and the shared control buffer.
 * @module
 */
import {
  newQuickJSWASMModuleFromVariant,
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
  HALT,
  MAX_ARGS_JSON,
  RESP_BYTES,
  type SandboxLimits,
  type ToSandbox,
} from "./_sandbox_protocol.ts";

const PROGRAM_FILE = "program.js";
const CHECK_FILE = "check.js";

/**
 * Trusted code evaluated before the program. It receives the host call
 * function as an argument (it is never a global), defines the skills as
 * frozen, non-writable globals, and removes what a policy must not reach.
 * Arguments cross to the host only as JSON text made here, inside the guest:
 * the host never touches a guest object, getter, `toString` or `valueOf`.
 */
const PRELUDE = `(function (host, skills) {
  "use strict";
  var stringify = JSON.stringify, parse = JSON.parse, isFiniteNumber = Number.isFinite;
  var defineProperty = Object.defineProperty, freeze = Object.freeze;
  function replacer(key, value) {
    if (typeof value === "number" && !isFiniteNumber(value)) return { $nonFinite: String(value) };
    if (typeof value === "function") return { $function: true };
    return value;
  }
  function SkillError(code, message) {
    var error = new Error(message);
    error.name = "SkillError";
    error.code = code;
    return error;
  }
  function makeSkill(name) {
    var skill = function () {
      var n = arguments.length;
      while (n > 0 && arguments[n - 1] === undefined) n--;
      var args = [];
      for (var i = 0; i < n; i++) args[i] = arguments[i];
      var answer = parse(host(name, stringify(args, replacer)));
      if (answer.ok) return answer.value;
      throw SkillError(answer.code, answer.message);
    };
    defineProperty(skill, "name", { value: name });
    return freeze(skill);
  }
  for (var i = 0; i < skills.length; i++) {
    defineProperty(globalThis, skills[i], { value: makeSkill(skills[i]), writable: false, enumerable: true, configurable: false });
  }
  defineProperty(Function.prototype, "constructor", { value: undefined, writable: false, configurable: false });
  delete globalThis.eval;
  delete globalThis.Function;
  delete Math.random;
})`;

let shared: { ctrl: Int32Array; data: Uint8Array } | null = null;
let quickjs: QuickJSWASMModule | null = null;

function post(message: FromSandbox): void {
  self.postMessage(message);
}

self.onmessage = (event: MessageEvent) => {
  const data = event.data as ToSandbox | {
    type: "init";
    buffer: SharedArrayBuffer;
  };
  if (data.type === "init") {
    shared = {
      ctrl: new Int32Array(data.buffer, 0, CTRL_BYTES / 4),
      data: new Uint8Array(data.buffer, CTRL_BYTES, RESP_BYTES),
    };
    return;
  }
  if (data.type === "run") {
    try {
      runGuest(data);
    } catch (error) {
      post({
        type: "fatal",
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }
};

quickjs = await newQuickJSWASMModuleFromVariant(variant);
post({ type: "ready" });

function runGuest(request: ToSandbox): void {
  if (shared === null) {
    throw new Error("Cannot run: the control buffer was not sent");
  }
  const { ctrl } = shared;
  const { limits, gen } = request;
  let seq = 0;
  const end = withContext(limits, limits.deadline, (vm) => {
    installSkills(vm, request.skills, (skill, argsJson) => {
      seq += 1;
      return callHost(gen, seq, "program", skill, argsJson);
    });
    return evaluate(vm, request.source, PROGRAM_FILE);
  });
  const checks: { expr: string; ok: boolean; message?: string }[] = [];
  const mayCheck = end.kind === "ok" ||
    (!end.interrupted && !isResourceError(end));
  if (mayCheck && Atomics.load(ctrl, CTRL.halt) === HALT.none) {
    for (const expr of request.checks) {
      const deadline = Date.now() + limits.checkTimeoutMs;
      const result = withContext(limits, deadline, (vm) => {
        installSkills(vm, request.querySkills, (skill, argsJson) => {
          seq += 1;
          return callHost(gen, seq, "check", skill, argsJson);
        });
        return evaluateCheck(vm, expr);
      });
      checks.push(result);
    }
  }
  post({ type: "done", gen, end, checks });
}

function isResourceError(end: GuestEnd): boolean {
  return end.kind === "error" && end.name === "InternalError" &&
    /out of memory|stack overflow/.test(end.message);
}

function withContext<T>(
  limits: SandboxLimits,
  deadline: number,
  body: (vm: QuickJSContext) => T,
): T {
  const { ctrl } = shared!;
  if (quickjs === null) {
    throw new Error("Cannot run: QuickJS is not loaded yet");
  }
  const runtime: QuickJSRuntime = quickjs.newRuntime();
  try {
    runtime.setMemoryLimit(limits.memoryBytes);
    runtime.setMaxStackSize(limits.stackBytes);
    runtime.setInterruptHandler(() =>
      Atomics.load(ctrl, CTRL.halt) !== HALT.none || Date.now() > deadline
    );
    const vm = runtime.newContext({
      intrinsics: {
        BaseObjects: true,
        Eval: true,
        JSON: true,
        MapSet: true,
        StringNormalize: true,
      },
    });
    try {
      return body(vm);
    } finally {
      vm.dispose();
    }
  } finally {
    runtime.dispose();
  }
}

function installSkills(
  vm: QuickJSContext,
  skills: string[],
  call: (skill: string, argsJson: string) => string,
): void {
  const host = vm.newFunction("host", (nameHandle, argsHandle) => {
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
    return vm.newString(
      call(vm.getString(nameHandle), vm.getString(argsHandle)),
    );
  });
  const names = vm.newArray();
  skills.forEach((skill, i) => {
    const name = vm.newString(skill);
    vm.setProp(names, i, name);
    name.dispose();
  });
  const prelude = vm.evalCode(PRELUDE, "prelude.js");
  try {
    const fn = vm.unwrapResult(prelude);
    const result = vm.callFunction(fn, vm.undefined, host, names);
    fn.dispose();
    vm.unwrapResult(result).dispose();
  } finally {
    host.dispose();
    names.dispose();
  }
}

/** Blocks the worker until the main thread answers the call. */
function callHost(
  gen: number,
  seq: number,
  phase: "program" | "check",
  skill: string,
  argsJson: string,
): string {
  const { ctrl, data } = shared!;
  if (Atomics.load(ctrl, CTRL.halt) !== HALT.none) {
    return cancelled(skill);
  }
  if (argsJson.length > MAX_ARGS_JSON) {
    return JSON.stringify({
      ok: false,
      code: "invalid_argument",
      message:
        `Cannot call ${skill}: its arguments are ${argsJson.length} characters of JSON, over the limit of ${MAX_ARGS_JSON}`,
    });
  }
  Atomics.store(ctrl, CTRL.resp, 0);
  post({ type: "call", gen, seq, phase, skill, argsJson });
  while (
    Atomics.load(ctrl, CTRL.resp) !== 1 ||
    Atomics.load(ctrl, CTRL.respSeq) !== seq
  ) {
    Atomics.wait(ctrl, CTRL.resp, 0, 50);
    if (
      Atomics.load(ctrl, CTRL.halt) !== HALT.none &&
      !(Atomics.load(ctrl, CTRL.resp) === 1 &&
        Atomics.load(ctrl, CTRL.respSeq) === seq)
    ) {
      // Halting: do not wait for the skill; the executor cancels it.
      return cancelled(skill);
    }
  }
  const length = Atomics.load(ctrl, CTRL.respLen);
  const text = new TextDecoder().decode(data.slice(0, length));
  Atomics.store(ctrl, CTRL.resp, 0);
  return text;
}

function cancelled(skill: string): string {
  return JSON.stringify({
    ok: false,
    code: "cancelled",
    message: `Cannot finish ${skill}: the run is halting`,
  });
}

function evaluate(vm: QuickJSContext, source: string, file: string): GuestEnd {
  const result = vm.evalCode(source, file);
  if (result.error === undefined) {
    result.value.dispose();
    return { kind: "ok" };
  }
  const end = describeError(vm, result.error);
  result.error.dispose();
  return end;
}

function evaluateCheck(
  vm: QuickJSContext,
  expr: string,
): { expr: string; ok: boolean; message?: string } {
  const result = vm.evalCode(`(${expr}\n)`, CHECK_FILE);
  if (result.error !== undefined) {
    const end = describeError(vm, result.error);
    result.error.dispose();
    const message = end.kind === "error"
      ? (end.interrupted
        ? "the check did not finish in time"
        : `${end.name}: ${end.message}`)
      : "failed";
    return { expr, ok: false, message };
  }
  const truthy = vm.dump(result.value) ? true : false;
  result.value.dispose();
  return truthy
    ? { expr, ok: true }
    : { expr, ok: false, message: "evaluated to a falsy value" };
}

/**
 * Reads name, message, code and line of a thrown guest value. Property reads
 * go through `getProp`, which may run a guest getter — inside the guest,
 * under the same interrupt handler; nothing of the host is exposed to it.
 */
function describeError(vm: QuickJSContext, error: QuickJSHandle): GuestEnd {
  const type = vm.typeof(error);
  const interrupted = isInterrupted(vm, error, type);
  if (type !== "object") {
    return {
      kind: "error",
      name: "Error",
      message: `uncaught ${type} ${shortString(vm, error)}`,
      code: null,
      line: null,
      interrupted,
    };
  }
  const name = stringProp(vm, error, "name") ?? "Error";
  const message = stringProp(vm, error, "message") ?? "";
  const code = stringProp(vm, error, "code");
  const stack = stringProp(vm, error, "stack") ?? "";
  const match = /program\.js:(\d+)/.exec(stack);
  return {
    kind: "error",
    name,
    message,
    code,
    line: match ? Number(match[1]) : null,
    interrupted,
  };
}

function isInterrupted(
  vm: QuickJSContext,
  error: QuickJSHandle,
  type: string,
): boolean {
  if (type !== "object") return false;
  return stringProp(vm, error, "name") === "InternalError" &&
    stringProp(vm, error, "message") === "interrupted";
}

function stringProp(
  vm: QuickJSContext,
  handle: QuickJSHandle,
  key: string,
): string | null {
  try {
    const value = vm.getProp(handle, key);
    try {
      return vm.typeof(value) === "string" ? vm.getString(value) : null;
    } finally {
      value.dispose();
    }
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
