import { assert, assertEquals, assertRejects } from "../../test/_assert.ts";
import { processGone } from "../../test/_process_state.ts";
import {
  parseScene,
  type Scene,
  SimBackend,
  type SkillBackend,
} from "../../skills-bridge/mod.ts";
import {
  EstopLatchedError,
  Executor,
  ExecutorBusyError,
  type RunEvent,
} from "./executor.ts";

const SCENE = parseScene({
  seed: 7,
  objects: [
    { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
    { id: "blue_block", kind: "block", color: "blue", x: 0, y: -0.5 },
    { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
  ],
});

function sceneWith(faults: Partial<Scene["faults"]>): Scene {
  return parseScene({ ...SCENE, faults: { ...SCENE.faults, ...faults } });
}

/**
 * Resolves once the executor, whose hosts were all killed, has started a
 * new one (alive, not yet warm: a start takes hundreds of milliseconds).
 */
async function hostStarting(executor: Executor): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (executor.hostPids.length === 0) {
    assert(Date.now() < deadline, "the executor started no new host");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function withExecutor(
  scene: Scene,
  body: (executor: Executor) => Promise<void>,
  caps: { timeoutMs?: number; memoryBytes?: number; maxSkillCalls?: number } =
    {},
): Promise<void> {
  await using backend = new SimBackend(scene, { timeScale: 1 });
  await using executor = await Executor.create({
    backend,
    robotId: "test-arm",
    caps: { timeoutMs: 5000, memoryBytes: 16 * 1024 * 1024, ...caps },
  });
  await body(executor);
}

Deno.test("executor runs a program and records every call and check", async () => {
  await withExecutor(SCENE, async (executor) => {
    const events: RunEvent["type"][] = [];
    const evidence = await executor.run({
      source: 'pick("red_block");\nplace("blue_bowl");\nsay("done");',
      instruction: "put the red block in the blue bowl",
      checks: [
        'detect("red block")[0].on === "blue_bowl"',
        "holding() === null",
      ],
      programId: "demo",
      version: 3,
    }, { onEvent: (event) => events.push(event.type) });
    assertEquals(evidence.outcome, "succeeded");
    assertEquals(evidence.failure, null);
    assertEquals(evidence.robotId, "test-arm");
    assertEquals(
      evidence.program.instruction,
      "put the red block in the blue bowl",
    );
    assertEquals(evidence.program.programId, "demo");
    assertEquals(evidence.program.version, 3);
    assertEquals(evidence.program.sha256.length, 64);
    assertEquals(evidence.calls.map((c) => [c.seq, c.skill, c.args, c.ok]), [
      [1, "pick", ["red_block"], true],
      [2, "place", ["blue_bowl"], true],
      [3, "say", ["done"], true],
    ]);
    assertEquals(evidence.checks.map((c) => c.ok), [true, true]);
    assertEquals(
      evidence.worldBefore?.objects.find((o) => o.id === "red_block")?.on,
      null,
    );
    assertEquals(
      evidence.worldAfter?.objects.find((o) => o.id === "red_block")?.on,
      "blue_bowl",
    );
    assertEquals(evidence.resources.skillCalls, 3);
    assertEquals(evidence.resources.memoryLimitBytes, 16 * 1024 * 1024);
    assertEquals(events[0], "run_started");
    assertEquals(events.at(-1), "run_ended");
    assertEquals(events.filter((e) => e === "skill_ended").length, 3);
  });
});

Deno.test("executor returns skill results as plain guest values", async () => {
  await withExecutor(SCENE, async (executor) => {
    const evidence = await executor.run({
      source: `const blocks = detect("block");
if (blocks.length !== 2) throw new Error("expected 2 blocks, got " + blocks.length);
const ws = workspace();
if (!(ws.xMin < ws.xMax)) throw new Error("bad workspace");
if (holding() !== null) throw new Error("holding something");
pick(blocks[0].id);
if (holding() !== blocks[0].id) throw new Error("not holding");
place({ x: ws.xMin + 0.05, y: ws.yMax - 0.05 });`,
    });
    assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
  });
});

Deno.test("executor labels each failure", async (t) => {
  const cases: {
    name: string;
    source: string;
    label: string;
    scene?: Scene;
    line?: number;
    checks?: string[];
    caps?: Record<string, number>;
    budgets?: { timeoutMs?: number };
  }[] = [
    {
      name: "unknown object",
      source: '\npick("ghost")',
      label: "invalid_argument",
      line: 2,
    },
    {
      name: "bad argument at run time",
      source: "const id = 42;\npick(id)",
      label: "invalid_argument",
      line: 2,
    },
    {
      name: "non-finite coordinate",
      source: "const x = 1 / 0;\npick('red_block');\nplace({x: x, y: -0.5})",
      label: "invalid_argument",
      line: 3,
    },
    {
      name: "out of workspace",
      source: 'pick("red_block"); place({x: 5, y: 5})',
      label: "invalid_argument",
    },
    {
      name: "gripper full",
      source: 'pick("red_block");\npick("blue_block")',
      label: "precondition_violated",
      line: 2,
    },
    {
      name: "not holding",
      source: 'place("blue_bowl")',
      label: "precondition_violated",
    },
    {
      name: "blocked",
      source: 'pick("red_block"); place("blue_block"); pick("blue_block")',
      label: "precondition_violated",
    },
    {
      name: "grasp failed",
      source: 'pick("red_block")',
      label: "skill_failed",
      scene: sceneWith({ graspFailureRate: 1 }),
    },
    {
      name: "program error",
      source: "const o = null;\no.x",
      label: "program_error",
      line: 2,
    },
    {
      name: "thrown error",
      source: 'throw new Error("giving up")',
      label: "program_error",
    },
    {
      name: "postcondition",
      source: 'say("nothing")',
      label: "postcondition_failed",
      checks: ["holding() === 'red_block'"],
    },
    {
      name: "verification",
      source: "globalThis.Deno",
      label: "verification_rejected",
    },
    {
      name: "timeout",
      source: "while (true) {}",
      label: "timeout",
      budgets: { timeoutMs: 300 },
    },
    {
      name: "timeout while waiting in a skill",
      source: "wait(30)",
      label: "timeout",
      budgets: { timeoutMs: 300 },
    },
    {
      name: "memory",
      source:
        "let list = null;\nfor (let i = 0; ; i++) list = { next: list, text: 'xxxxxxxxxxxxxxxxxxxxxxxxxxx' + i };",
      label: "memory_exceeded",
      caps: { memoryBytes: 4 * 1024 * 1024 },
    },
    {
      name: "string doubling",
      source: "let s = 'x';\nwhile (true) s = s + s;",
      label: "memory_exceeded",
      caps: { memoryBytes: 4 * 1024 * 1024 },
    },
    {
      name: "stack",
      source: "function f(n) { return f(n + 1) + 1; }\nf(0);",
      label: "stack_overflow",
    },
    {
      name: "budget",
      source: "for (let i = 0; i < 100; i++) holding();",
      label: "budget_exceeded",
      caps: { maxSkillCalls: 10 },
    },
    {
      name: "budget with the error caught",
      source:
        "for (let i = 0; i < 100; i++) { try { holding(); } catch (e) {} }",
      label: "budget_exceeded",
      caps: { maxSkillCalls: 10 },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await withExecutor(c.scene ?? SCENE, async (executor) => {
        // A short deadline is the run's own budget: the healthy run after
        // it keeps the executor's roomier one.
        const evidence = await executor.run({
          source: c.source,
          checks: c.checks ?? [],
          ...(c.budgets ? { budgets: c.budgets } : {}),
        });
        assertEquals(
          evidence.failure?.label,
          c.label,
          evidence.failure?.message,
        );
        assertEquals(
          evidence.outcome,
          c.label === "verification_rejected" ? "rejected" : "failed",
        );
        if (c.line !== undefined) assertEquals(evidence.failure?.line, c.line);
        // The host stays healthy: the next run works.
        const next = await executor.run({ source: 'say("still alive")' });
        assertEquals(next.outcome, "succeeded", next.failure?.message);
      }, c.caps);
    });
  }
});

Deno.test("executor keeps interface errors apart from semantic ones", async () => {
  await withExecutor(SCENE, async (executor) => {
    const caught = await executor.run({
      source:
        `try { pick("ghost"); } catch (e) { if (e.name !== "SkillError" || e.code !== "unknown_object") throw e; }
say("recovered");`,
    });
    assertEquals(caught.outcome, "succeeded", caught.failure?.message);
    assertEquals(caught.calls[0]?.error?.code, "unknown_object");
  });
});

Deno.test("executor retries after grasp failures drawn from the seed", async () => {
  await withExecutor(sceneWith({ graspFailureRate: 0.5 }), async (executor) => {
    const evidence = await executor.run({
      source: `let tries = 0;
while (true) {
  try { pick("red_block"); break; }
  catch (e) { if (e.code !== "grasp_failed" || tries > 50) throw e; tries++; }
}
place("blue_bowl");`,
      checks: ['detect("red")[0].on === "blue_bowl"'],
    });
    assertEquals(evidence.outcome, "succeeded", evidence.failure?.message);
  });
});

Deno.test("stop halts the guest in every state and latches until resume", async (t) => {
  // Each program first says "go", so the stop lands while it really spins
  // (or while it waits inside the skill named by `inSkill`).
  const states = [
    {
      name: "tight loop",
      source: 'say("go"); let i = 0; while (true) { i++; }',
    },
    {
      name: "memory thrash",
      source:
        'say("go"); let a = []; while (true) { a.push([1, 2, 3]); if (a.length > 50000) a = []; }',
    },
    {
      name: "deep recursion",
      source:
        'say("go"); function f(n) { if (n > 2000) return 0; return f(n + 1) + f(n + 1); } while (true) f(0);',
    },
    { name: "in a skill", source: 'say("go"); wait(30)', inSkill: "wait" },
    {
      name: "in a slow pick",
      source: 'pick("red_block")',
      inSkill: "pick",
      scene: sceneWith({ skillLatencyMs: 10_000 }),
    },
  ];
  for (const state of states) {
    await t.step(state.name, async () => {
      await withExecutor(state.scene ?? SCENE, async (executor) => {
        let started!: () => void;
        const running = new Promise<void>((resolve) => started = resolve);
        const run = executor.run({ source: state.source }, {
          onEvent: (event) => {
            if (state.inSkill === undefined && event.type === "skill_ended") {
              started();
            }
            if (
              event.type === "skill_started" && event.skill === state.inSkill
            ) started();
          },
        });
        await running;
        await executor.stop("test stop");
        const evidence = await run;
        assertEquals(evidence.outcome, "stopped");
        assertEquals(evidence.failure?.label, "estop");
        for (const call of evidence.calls) {
          if (!call.ok) assertEquals(call.error?.code, "cancelled");
        }
        if (state.scene) {
          // The cancelled pick left the world unchanged.
          assertEquals(evidence.worldAfter?.holding, null);
        }
        await assertRejects(
          () => executor.run({ source: 'say("x")' }),
          EstopLatchedError,
        );
        executor.resume();
        const next = await executor.run({ source: 'say("after resume")' });
        assertEquals(next.outcome, "succeeded", next.failure?.message);
      }, { timeoutMs: 30_000 });
    });
  }
});

Deno.test("aborting a run's signal stops it without latching", async () => {
  await withExecutor(SCENE, async (executor) => {
    const controller = new AbortController();
    const run = executor.run({ source: "while (true) {}" }, {
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === "run_started") {
          queueMicrotask(() => controller.abort());
        }
      },
    });
    const evidence = await run;
    assertEquals(evidence.outcome, "stopped");
    assertEquals(executor.stopReason, null);
    assertEquals(
      (await executor.run({ source: 'say("x")' })).outcome,
      "succeeded",
    );
  }, { timeoutMs: 30_000 });
});

Deno.test("only one program drives the robot at a time", async () => {
  await withExecutor(SCENE, async (executor) => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => started = resolve);
    const first = executor.run({ source: "wait(30)" }, {
      onEvent: (e) => e.type === "skill_started" && started(),
    });
    await running;
    await assertRejects(
      () => executor.run({ source: 'say("second")' }),
      ExecutorBusyError,
    );
    await executor.stop();
    assertEquals((await first).failure?.label, "estop");
  }, { timeoutMs: 30_000 });
});

Deno.test("a hostile argument never runs guest code on the host", async () => {
  await withExecutor(SCENE, async (executor) => {
    // The verifier refuses getters; at run time data crosses only as JSON made in the guest.
    const evidence = await executor.run({
      source: `const target = { x: 0.1, y: -0.5, extra: [1, 2, 3] };
pick("red_block");
place(target);`,
    });
    assertEquals(evidence.failure?.label, "invalid_argument");
    assert(
      evidence.failure?.message.includes("extra"),
      evidence.failure?.message,
    );
  });
});

Deno.test("a stopped guest inside a long builtin loses its host process; the next run starts on the spare", async () => {
  await withExecutor(SCENE, async (executor) => {
    const [first, spare] = executor.hostPids;
    assert(first !== undefined && spare !== undefined, "two warm hosts");
    assertEquals(await processGone(first), false, "the host runs before");
    // Each comparison of two 4-million-character strings runs in C, where
    // QuickJS never polls its interrupt handler: only a kill stops it.
    const source = [
      'const s = "a".repeat(4000000);',
      'const t = s + "b";',
      'say("spinning");',
      "let n = 0;",
      "while (true) { if (s < t) n = n + 1; }",
    ].join("\n");
    const { promise: spinning, resolve } = Promise.withResolvers<void>();
    const run = executor.run({ source }, {
      onEvent: (event) => {
        if (event.type === "skill_ended") resolve();
      },
    });
    await spinning;
    await executor.stop("test stop");
    const evidence = await run;
    assertEquals(evidence.outcome, "stopped");
    assertEquals(evidence.failure?.label, "estop");
    const deadline = Date.now() + 10_000;
    while (!(await processGone(first)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert(await processGone(first), `host ${first} still runs the guest`);
    executor.resume();
    assertEquals(executor.hostPids[0], spare, "the spare takes the next run");
    const next = await executor.run({ source: 'say("after")' });
    assertEquals(next.outcome, "succeeded", next.failure?.message);
    // Waiting for the spare too: the killed host's successor is warm.
    await executor.warm({ spare: true });
    const pids = executor.hostPids;
    assertEquals(pids.length, 2, "a host and a warm spare");
    assert(!pids.includes(first), "the killed host is not one of them");
    for (const pid of pids) {
      assertEquals(await processGone(pid), false, `host ${pid} runs`);
    }
  }, { timeoutMs: 60_000, memoryBytes: 64 * 1024 * 1024 });
});

Deno.test("labels come from facts: forged, copied and rewritten errors are program_error", async (t) => {
  const cases: { name: string; source: string; label: string }[] = [
    {
      name: "a caught stack overflow rewritten as out of memory",
      source:
        'function r(n) { return r(n + 1) + 1; }\ntry { r(0); } catch (e) { e.message = "out of memory"; throw e; }',
      label: "program_error",
    },
    {
      name: "a caught out-of-memory rewritten as a stack overflow",
      source:
        'const a = [];\ntry { while (true) a.push([1, 2, 3, 4, 5, 6, 7, 8]); } catch (e) { a.length = 0; e.message = "stack overflow"; throw e; }',
      label: "program_error",
    },
    {
      name: "a made-up error with the code of an earlier caught SkillError",
      source:
        'let code = null;\ntry { pick("nope"); } catch (e) { code = e.code; }\nconst f = new Error("made up");\nf.name = "SkillError";\nf.code = code;\nthrow f;',
      label: "program_error",
    },
    {
      name: "a caught SkillError rewritten and thrown again",
      source:
        'try { pick("nope"); } catch (e) { e.code = "grasp_failed"; throw e; }',
      label: "invalid_argument",
    },
    {
      name: "a caught JSON SyntaxError rewritten as a stack overflow",
      source:
        'try { JSON.parse("{"); } catch (e) { e.message = "stack overflow"; throw e; }',
      label: "program_error",
    },
    {
      name:
        "a SyntaxError made from a caught one's constructor: refused before it runs",
      source:
        'let made = null;\ntry { JSON.parse("{"); } catch (e) { made = e.constructor; }\nthrow new made("stack overflow");',
      label: "verification_rejected",
    },
    {
      name: "a genuine stack overflow in JSON.parse",
      source: 'JSON.parse("[".repeat(200000) + "]".repeat(200000));',
      label: "stack_overflow",
    },
    {
      name: "a null thrown while holding more than half the heap",
      source:
        "const keep = [];\nfor (let i = 0; i < 500; i++) {\n  const row = [];\n  for (let j = 0; j < 400; j++) row.push({ a: i, b: j });\n  keep.push(row);\n}\nsay(`holding ${keep.length}`);\nthrow null;",
      label: "program_error",
    },
    {
      name: "a genuine out-of-memory",
      source: "const a = [];\nwhile (true) a.push([1, 2, 3, 4, 5, 6, 7, 8]);",
      label: "memory_exceeded",
    },
    {
      name: "a genuine stack overflow",
      source: "function r(n) { return r(n + 1) + 1; }\nr(0);",
      label: "stack_overflow",
    },
    {
      name: "a genuine skill failure, caught and rethrown as is",
      source: 'try { pick("nope"); } catch (e) { throw e; }',
      label: "invalid_argument",
    },
  ];
  await withExecutor(SCENE, async (executor) => {
    for (const c of cases) {
      await t.step(c.name, async () => {
        const evidence = await executor.run({ source: c.source });
        assertEquals(
          evidence.failure?.label,
          c.label,
          `${c.name}: ${evidence.failure?.message}`,
        );
        assert(
          !evidence.failure?.message.startsWith("The sandbox failed"),
          `the guest's own end, not a broken sandbox: ${evidence.failure?.message}`,
        );
      });
    }
  });
});

Deno.test("a worn-out sandbox host finishes the run it took before it is replaced", async () => {
  // Each run outlasts the moment after which worn hosts are replaced, and
  // every host is worn after two runs: a replacement must never take the
  // host of the run in progress.
  await using backend = new SimBackend(SCENE, { timeScale: 1 });
  await using executor = await Executor.create({
    backend,
    robotId: "test-arm",
    maxRunsPerHost: 2,
    caps: { timeoutMs: 5000, memoryBytes: 16 * 1024 * 1024 },
  });
  const outcomes: string[] = [];
  for (let i = 0; i < 8; i++) {
    const evidence = await executor.run({
      source: 'say("a"); wait(0.03); say("b");',
    });
    outcomes.push(
      evidence.outcome === "succeeded"
        ? "succeeded"
        : `${evidence.outcome}: ${evidence.failure?.message}`,
    );
  }
  assertEquals(outcomes, Array(8).fill("succeeded"));
  assert(executor.hostRestarts >= 1, "no worn host was replaced");
});

Deno.test("an error with a huge name ends the run program_error, briefly told, on the same host", async () => {
  await withExecutor(SCENE, async (executor) => {
    const restarts = executor.hostRestarts;
    for (const where of ["program", "check"] as const) {
      const thrower =
        'const e = new Error("boom");\ne.name = "N".repeat(9000000);\nthrow e;';
      const evidence = await executor.run(
        where === "program" ? { source: thrower } : {
          source: 'say("hi");',
          checks: [`(() => { ${thrower.replaceAll("\n", " ")} })()`],
        },
      );
      assertEquals(evidence.outcome, "failed", where);
      const told = where === "program"
        ? evidence.failure?.message ?? ""
        : evidence.checks[0]?.message ?? "";
      assert(told.includes("boom"), `${where}: ${told.slice(0, 200)}`);
      assert(told.length < 3000, `${where}: ${told.length} characters`);
      if (where === "program") {
        assertEquals(evidence.failure?.label, "program_error");
      }
    }
    // The host wrote a short line: it was not ended for a protocol fault.
    assertEquals(executor.hostRestarts, restarts);
    assertEquals(
      (await executor.run({ source: 'say("hi");' })).outcome,
      "succeeded",
    );
  }, { memoryBytes: 64 * 1024 * 1024 });
});

Deno.test("builtins that recurse in C meet the engine's own stack cap: the guest catches it, the host stays", async () => {
  await withExecutor(SCENE, async (executor) => {
    const restarts = executor.hostRestarts;
    const cases = {
      "JSON.stringify":
        "let o = {};\nfor (let i = 0; i < 200000; i++) o = { a: o };\nJSON.stringify(o);",
      "JSON.parse": 'JSON.parse("[".repeat(200000) + "]".repeat(200000));',
      "flat":
        "let o = [1];\nfor (let i = 0; i < 90000; i++) o = [o];\no.flat(Infinity);",
    };
    for (const [name, deep] of Object.entries(cases)) {
      const evidence = await executor.run({
        source:
          `try {\n${deep}\n} catch (e) {\n  say("caught " + e.message);\n}`,
      });
      assertEquals(
        evidence.outcome,
        "succeeded",
        `${name}: ${evidence.failure?.message}`,
      );
      assertEquals(evidence.calls[0]?.args, ["caught stack overflow"], name);
    }
    assertEquals(executor.hostRestarts, restarts, "a host was lost");
  }, { memoryBytes: 64 * 1024 * 1024, timeoutMs: 20_000 });
});

Deno.test("a host that dies during a skill: the skill is cancelled, the evidence is final, the next run drives alone", async () => {
  // A pick that takes 6 s unless it is cancelled.
  await withExecutor(sceneWith({ skillLatencyMs: 6000 }), async (executor) => {
    const events: RunEvent[] = [];
    const { promise: picking, resolve } = Promise.withResolvers<void>();
    const run = executor.run({ source: 'pick("red_block");\nsay("after");' }, {
      onEvent: (event) => {
        events.push(event);
        if (event.type === "skill_started") resolve();
      },
    });
    await picking;
    Deno.kill(executor.hostPids[0]!, "SIGKILL");
    const evidence = await run;
    assertEquals(evidence.outcome, "failed");
    assertEquals(evidence.failure?.label, "program_error");
    const [pick] = evidence.calls;
    assertEquals(pick?.ok, false);
    assertEquals(pick?.error?.code, "cancelled", JSON.stringify(pick));
    assertEquals(evidence.worldAfter?.holding, null, "the pick did not finish");
    assertEquals(events.at(-1)?.type, "run_ended");
    const recorded = JSON.stringify(evidence);
    // The next run finds the gripper as the first left it, and nothing of
    // the first run changes or speaks after its end.
    const next = await executor.run({ source: 'say("next");' });
    assertEquals(next.outcome, "succeeded", next.failure?.message);
    assertEquals(JSON.stringify(evidence), recorded);
    assertEquals(events.at(-1)?.type, "run_ended");
  }, { timeoutMs: 30_000 });
});

Deno.test("a skill that ignores its cancel keeps other runs out until it ends", async () => {
  await using backend = new SimBackend(SCENE, { timeScale: 1 });
  // A backend whose pick ends 1.5 s after it starts, cancelled or not.
  const stubborn: SkillBackend = {
    kind: "stubborn",
    invoke: async (skill, args, options) => {
      if (skill !== "pick") return await backend.invoke(skill, args, options);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return await backend.invoke(skill, args);
    },
    world: (options) => backend.world(options),
    [Symbol.asyncDispose]: () => Promise.resolve(),
  };
  await using executor = await Executor.create({
    backend: stubborn,
    caps: { timeoutMs: 30_000, memoryBytes: 16 * 1024 * 1024 },
    cancelWaitMs: 50,
  });
  const { promise: picking, resolve } = Promise.withResolvers<void>();
  const run = executor.run({ source: 'pick("red_block");' }, {
    onEvent: (event) => event.type === "skill_started" && resolve(),
  });
  await picking;
  await executor.stop("test stop");
  const evidence = await run;
  assertEquals(evidence.outcome, "stopped");
  assertEquals(evidence.calls[0]?.error?.code, "cancelled");
  executor.resume();
  const busy = await assertRejects(
    () => executor.run({ source: 'say("too soon");' }),
    ExecutorBusyError,
  );
  assert(busy.message.includes(evidence.runId), busy.message);
  const deadline = Date.now() + 10_000;
  let next: Awaited<ReturnType<Executor["run"]>> | null = null;
  while (next === null && Date.now() < deadline) {
    next = await executor.run({ source: 'say("later");' }).catch(() => null);
    if (next === null) await new Promise((r) => setTimeout(r, 50));
  }
  assertEquals(next?.outcome, "succeeded", "runs again once the skill ended");
  assertEquals(evidence.calls[0]?.error?.code, "cancelled", "unchanged");
});

Deno.test("disposing while a run is being prepared ends it stopped and leaves no host", async () => {
  await using backend = new SimBackend(SCENE, { timeScale: 1 });
  const executor = await Executor.create({
    backend,
    caps: { timeoutMs: 5000, memoryBytes: 16 * 1024 * 1024 },
  });
  const pids = executor.hostPids;
  let disposing: Promise<void> | null = null;
  const evidence = await executor.run({ source: 'pick("red_block");' }, {
    onEvent: (event) => {
      if (event.type === "run_started") {
        disposing = executor[Symbol.asyncDispose]();
      }
    },
  });
  await disposing;
  assertEquals(evidence.outcome, "stopped");
  assertEquals(evidence.failure?.label, "estop");
  assertEquals(evidence.calls, [], "the program never ran");
  assertEquals(executor.hostPids, []);
  for (const pid of pids) assert(await processGone(pid), `host ${pid} runs`);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assertEquals(executor.hostPids, [], "no host was started after the dispose");
});

Deno.test("a run whose sandbox cannot start is refused before it begins", async () => {
  await withExecutor(SCENE, async (executor) => {
    // Every host the executor starts dies at once: its hello never comes.
    for (const pid of executor.hostPids) Deno.kill(pid, "SIGKILL");
    const killer = setInterval(async () => {
      const out = await new Deno.Command("pgrep", {
        args: ["-P", String(Deno.pid), "-f", "host_main"],
        stdout: "piped",
      }).output();
      for (const pid of new TextDecoder().decode(out.stdout).split(/\s+/)) {
        try {
          if (pid !== "") Deno.kill(Number(pid), "SIGKILL");
        } catch {
          // Gone already.
        }
      }
    }, 5);
    // Once the executor saw its warm hosts die, it must start new ones.
    const seen = Date.now() + 10_000;
    while (executor.hostPids.length > 0 && Date.now() < seen) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const events: RunEvent["type"][] = [];
    try {
      const refused = await assertRejects(
        () =>
          executor.run({ source: 'say("hi");' }, {
            onEvent: (event) => events.push(event.type),
          }),
        Error,
      );
      assert(
        refused.message.startsWith("Cannot start the sandbox host"),
        refused.message,
      );
    } finally {
      clearInterval(killer);
    }
    assertEquals(events, [], "no run began, so no record was begun");
    const next = await executor.run({ source: 'say("hi");' });
    assertEquals(next.outcome, "succeeded", next.failure?.message);
  });
});

Deno.test("a killed spare is replaced though the host that ran lives", async () => {
  await withExecutor(SCENE, async (executor) => {
    const [, spare] = executor.hostPids;
    Deno.kill(spare!, "SIGKILL");
    while (!(await processGone(spare!))) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (let i = 0; i < 3; i++) {
      assertEquals(
        (await executor.run({ source: 'say("x");' })).outcome,
        "succeeded",
      );
    }
    await executor.warm({ spare: true });
    assertEquals(executor.hostPids.length, 2, "a host and a warm spare");
    assert(!executor.hostPids.includes(spare!));
  });
});

Deno.test("the memory cap holds for large blocks, which the engine's own count misses", async () => {
  // 16 MiB cap. The engine counts 8 bytes a block, so only its memory's
  // maximum stops a guest that holds strings of a MiB each.
  await withExecutor(SCENE, async (executor) => {
    const held = await executor.run({
      source:
        'let keep = [];\nwhile (true) keep.push("x".repeat(1 << 20) + keep.length);',
    });
    assertEquals(held.outcome, "failed");
    assertEquals(held.failure?.label, "memory_exceeded", held.failure?.message);
    const caught = await executor.run({
      source: [
        "let keep = []; let n = 0;",
        'try { while (true) { keep.push("x".repeat(1 << 20) + n); n++; } }',
        "catch (e) { say(String(n)); }",
      ].join("\n"),
    });
    assertEquals(caught.outcome, "succeeded", caught.failure?.message);
    const mib = Number(caught.calls[0]?.args[0]);
    // The cap, the engine's margin and what its first pages leave free.
    assert(
      mib > 0 && mib <= 40,
      `the guest held ${mib} MiB under a 16 MiB cap`,
    );
    // A null the guest throws is still its own error, not the engine's.
    const thrown = await executor.run({ source: "throw null;" });
    assertEquals(thrown.failure?.label, "program_error");
    assertEquals(
      (await executor.run({ source: 'say("after");' })).outcome,
      "succeeded",
    );
  });
});

Deno.test("a program that leaves no memory for its checks fails them; its host stays", async () => {
  await withExecutor(SCENE, async (executor) => {
    const restarts = executor.hostRestarts;
    // About 30 MiB held under a 16 MiB cap: the engine's memory is full.
    const evidence = await executor.run({
      source: [
        "const keep = [];",
        'for (let i = 0; i < 120; i++) keep.push("x".repeat(1 << 18) + i);',
        'for (let i = 0; i < 16; i++) keep.push("y".repeat(1 << 13) + i);',
        "say(String(keep.length));",
      ].join("\n"),
      checks: ["holding() === null"],
    });
    if (evidence.failure?.label === "postcondition_failed") {
      assertEquals(evidence.checks[0]?.ok, false);
      assert(
        evidence.checks[0]?.message?.includes("too little memory"),
        evidence.checks[0]?.message,
      );
    } else {
      // Or the program itself found no room (how much is free varies).
      assertEquals(evidence.failure?.label, "memory_exceeded");
    }
    const next = await executor.run({ source: 'say("after");' });
    assertEquals(next.outcome, "succeeded", next.failure?.message);
    assertEquals(executor.hostRestarts, restarts, "no host was lost");
  });
});

Deno.test("disposing while the run waits for a host to start leaves no host", async () => {
  await using backend = new SimBackend(SCENE, { timeScale: 1 });
  const executor = await Executor.create({
    backend,
    caps: { timeoutMs: 5000, memoryBytes: 16 * 1024 * 1024 },
  });
  for (const pid of executor.hostPids) Deno.kill(pid, "SIGKILL");
  const seen = Date.now() + 10_000;
  while (executor.hostPids.length > 0 && Date.now() < seen) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const run = executor.run({ source: 'pick("red_block");' }).catch(
    (error: Error) => error,
  );
  // The run now waits for a host that is starting: dispose once there is one.
  await hostStarting(executor);
  await executor[Symbol.asyncDispose]();
  const ended = await run;
  if (!(ended instanceof Error)) {
    assertEquals(ended.outcome, "stopped");
    assertEquals(ended.calls, []);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  assertEquals(executor.hostPids, [], "no host runs after the dispose");
  const out = await new Deno.Command("pgrep", {
    args: ["-P", String(Deno.pid), "-f", "host_main"],
    stdout: "piped",
  }).output();
  assertEquals(new TextDecoder().decode(out.stdout).trim(), "");
});

Deno.test("a stop while a run waits for its host ends that run stopped, though a resume came first", async () => {
  await withExecutor(SCENE, async (executor) => {
    for (const pid of executor.hostPids) Deno.kill(pid, "SIGKILL");
    const seen = Date.now() + 10_000;
    while (executor.hostPids.length > 0 && Date.now() < seen) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The run waits for a new host; the operator stops, then resumes.
    const run = executor.run({ source: 'pick("red_block");\nsay("moved");' });
    await hostStarting(executor);
    await executor.stop("operator stop");
    executor.resume();
    const evidence = await run;
    assertEquals(evidence.outcome, "stopped");
    assertEquals(evidence.failure?.label, "estop");
    assertEquals(evidence.calls, [], "nothing moved after the stop");
    const next = await executor.run({ source: 'say("after");' });
    assertEquals(next.outcome, "succeeded", next.failure?.message);
  });
});

Deno.test("a run allowed less memory than the executor's cap is held to its own", async () => {
  await withExecutor(SCENE, async (executor) => {
    const source = [
      "let keep = []; let n = 0;",
      'try { while (true) { keep.push("x".repeat(1 << 20) + n); n++; } }',
      "catch (e) { say(String(n)); }",
    ].join("\n");
    const small = await executor.run({
      source,
      budgets: { memoryBytes: 8 * 1024 * 1024 },
    });
    assertEquals(small.outcome, "succeeded", small.failure?.message);
    assertEquals(small.resources.memoryLimitBytes, 8 * 1024 * 1024);
    const held = Number(small.calls[0]?.args[0]);
    const full = await executor.run({ source });
    const fullHeld = Number(full.calls[0]?.args[0]);
    assert(
      held > 0 && held <= 30 && held < fullHeld,
      `held ${held} MiB under 8 MiB, ${fullHeld} MiB under 64 MiB`,
    );
  }, { memoryBytes: 64 * 1024 * 1024 });
});

Deno.test("a skill's answer that finds the engine's memory full ends the run memory_exceeded, never corrupts the engine", async () => {
  // Sixty blocks: detect's answer is some kilobytes, more than a program
  // that filled its memory and freed a few objects left.
  const scene = parseScene({
    seed: 1,
    objects: Array.from({ length: 60 }, (_, i) => ({
      id: `block_${i}`,
      kind: "block",
      color: "red",
      x: -0.25 + (i % 10) * 0.05,
      y: -0.75 + Math.floor(i / 10) * 0.08,
    })),
  });
  await withExecutor(scene, async (executor) => {
    for (const freed of [2, 3, 4, 6, 8, 16, 32]) {
      const evidence = await executor.run({
        source: [
          "let keep = [];",
          'try { for (;;) keep.push({ a: keep.length, b: "y" + keep.length }); } catch (e) { }',
          `for (let i = 0; i < ${freed}; i++) keep.pop();`,
          'let seen = "none";',
          'try { detect(); seen = "ok"; } catch (e) { seen = e === null ? "null" : String(e.name) + ": " + String(e.message).slice(0, 60); }',
          "keep = null;",
          'say("guest saw: " + seen);',
        ].join("\n"),
      });
      const said = evidence.calls.find((call) => call.skill === "say");
      if (evidence.outcome === "succeeded") {
        // The guest got detect's answer whole, or QuickJS's own clean
        // out-of-memory error (never bytes of an answer written elsewhere).
        assert(
          said?.args[0] === "guest saw: ok" ||
            /^guest saw: (null|InternalError: out of memory)$/.test(
              String(said?.args[0]),
            ),
          `${freed} freed: ${said?.args[0]}`,
        );
      } else {
        // (QuickJS itself may trap in a path that found no memory: its
        // host is replaced, the label is the same.)
        assertEquals(
          evidence.failure?.label,
          "memory_exceeded",
          `${freed} freed: ${evidence.failure?.message}`,
        );
      }
      const next = await executor.run({ source: 'say("after");' });
      assertEquals(next.outcome, "succeeded", next.failure?.message);
    }
  }, { memoryBytes: 8 * 1024 * 1024 });
});

Deno.test("a failure's line is where the error was made, not what its stack was rewritten to", async () => {
  await withExecutor(SCENE, async (executor) => {
    const rewritten = await executor.run({
      source: [
        'const e = new Error("made up");',
        'e.stack = "at program.js:4242";',
        "throw e;",
      ].join("\n"),
    });
    assertEquals(rewritten.failure?.label, "program_error");
    assertEquals(rewritten.failure?.line ?? null, null);
    const skill = await executor.run({
      source: [
        "let kept = null;",
        'try { pick("ghost"); } catch (e) { kept = e; }',
        'kept.stack = "at program.js:2\\nat program.js:777";',
        "throw kept;",
      ].join("\n"),
    });
    assertEquals(skill.failure?.label, "invalid_argument");
    assertEquals(skill.failure?.line, 2);
    const own = await executor.run({
      source: ['say("one");', "", 'throw new Error("three");'].join("\n"),
    });
    assertEquals(own.failure?.label, "program_error");
    assertEquals(own.failure?.line, 3);
  });
});
