import { match as assertMatch } from "node:assert/strict";
import { assert, assertEquals } from "../test/_assert.ts";
import {
  type FakeReply,
  type FakeRequest,
  startFakeOpenAiServer,
} from "../test/_fake_openai_server.ts";
import { parseScene } from "../skills-bridge/mod.ts";
import { HELPER_MARKER } from "./build_helper_prompt.ts";
import { createOpenAiClient } from "./create_openai_client.ts";
import { DryRunner } from "./dry_runner.ts";
import { synthesize } from "./synthesize.ts";
import { SynthesisError } from "./synthesis_error.ts";

const scene = parseScene({
  seed: 7,
  objects: [
    { id: "red_block", kind: "block", color: "red", x: 0.1, y: -0.5 },
    { id: "blue_bowl", kind: "bowl", color: "blue", x: -0.1, y: -0.4 },
    { id: "green_bowl", kind: "bowl", color: "green", x: -0.2, y: -0.65 },
  ],
});
const checks = ['detect("red block")[0].on === "blue_bowl"'];
const INSTRUCTION = "put the red block in the blue bowl";

const js = (code: string): FakeReply => ({
  content: "Here you go:\n```js\n" + code + "\n```\n",
});
const CORRECT =
  'const b = detect("red block")[0];\npick(b.id);\nplace("blue_bowl");';

function clientFor(
  baseURL: string,
  extra: { timeoutMs?: number; maxRetries?: number } = {},
) {
  return createOpenAiClient({
    baseURL,
    model: "fake-model",
    maxRetries: extra.maxRetries ?? 0,
    ...(extra.timeoutMs === undefined ? {} : { timeoutMs: extra.timeoutMs }),
    env: () => undefined,
  });
}

const lastUser = (r: FakeRequest | undefined) =>
  r?.messages.findLast((m) => m.role === "user")?.content ?? "";

async function rejection(promise: Promise<unknown>): Promise<SynthesisError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert(
    error instanceof SynthesisError,
    `expected a SynthesisError, got ${error}`,
  );
  return error;
}

Deno.test("synthesize() accepts a correct program on the first attempt", async () => {
  await using server = startFakeOpenAiServer([js(CORRECT)]);
  const result = await synthesize(INSTRUCTION, {
    scene,
    checks,
    client: clientFor(server.baseURL),
  });
  assert(result.ok, result.error);
  assertEquals(result.source, CORRECT);
  assertEquals(result.model, "fake-model");
  assertEquals(result.attempts.length, 1);
  assertMatch(result.promptSha256, /^[0-9a-f]{64}$/);
  assertEquals(result.attempts[0]?.promptSha256, result.promptSha256);
  assertEquals(result.attempts[0]?.dryRun?.outcome, "succeeded");
  const [system, user] = server.requests[0]?.messages ?? [];
  assertEquals(system?.role, "system");
  assertMatch(system?.content ?? "", /declare function pick/);
  assertMatch(system?.content ?? "", /Math\.random/);
  assertMatch(system?.content ?? "", /\/\/ instruction: /);
  assertMatch(user?.content ?? "", /red_block: red block at x=0\.10, y=-0\.50/);
  assertMatch(
    user?.content ?? "",
    /Instruction: put the red block in the blue bowl$/,
  );
});

Deno.test("synthesize() repair loop with a shared dry-runner", async (t) => {
  await using dryRunner = await DryRunner.create();
  await t.step(
    "repairs a program with a forbidden global from the verifier's issues",
    async () => {
      await using server = startFakeOpenAiServer([
        js(`const t = Date.now();\n${CORRECT}`),
        js(CORRECT),
      ]);
      const result = await synthesize(INSTRUCTION, {
        scene,
        checks,
        client: clientFor(server.baseURL),
        dryRunner,
      });
      assert(result.ok, result.error);
      assertEquals(result.attempts.length, 2);
      const first = result.attempts[0];
      assertEquals(first?.verifier?.ok, false);
      assert(
        first?.verifier?.issues.some((i) => i.code === "forbidden_identifier"),
      );
      assertEquals(first?.dryRun, null);
      const repair = lastUser(server.requests[1]);
      assertMatch(repair, /verifier refused/);
      assertMatch(repair, /line 1:\d+ forbidden_identifier: .*Date/);
      assert(
        result.attempts[0]?.promptSha256 !== result.attempts[1]?.promptSha256,
      );
      assertEquals(result.promptSha256, result.attempts[1]?.promptSha256);
    },
  );

  await t.step(
    "repairs a program that fails its dry-run from the evidence",
    async () => {
      await using server = startFakeOpenAiServer([
        js('pick("red_block");\nplace("green_bowl");'),
        js(CORRECT),
      ]);
      const result = await synthesize(INSTRUCTION, {
        scene,
        checks,
        client: clientFor(server.baseURL),
        dryRunner,
      });
      assert(result.ok, result.error);
      assertEquals(result.attempts.length, 2);
      const failed = result.attempts[0]?.dryRun;
      assertEquals(failed?.outcome, "failed");
      assertEquals(failed?.failure?.label, "postcondition_failed");
      const repair = lastUser(server.requests[1]);
      assertMatch(repair, /Failure: postcondition_failed/);
      assertMatch(repair, /pick\("red_block"\) ok/);
      assertMatch(repair, /place\("green_bowl"\) ok/);
      assertMatch(
        repair,
        /FAILED: detect\("red block"\)\[0\]\.on === "blue_bowl"/,
      );
      assertMatch(repair, /red_block at x=.*on green_bowl/);
    },
  );

  await t.step(
    "feeds an interface failure (label and line) back to the model",
    async () => {
      await using server = startFakeOpenAiServer([
        js('place("blue_bowl");'),
        js(CORRECT),
      ]);
      const result = await synthesize(INSTRUCTION, {
        scene,
        checks,
        client: clientFor(server.baseURL),
        dryRunner,
      });
      assert(result.ok, result.error);
      assertEquals(
        result.attempts[0]?.dryRun?.failure?.label,
        "precondition_violated",
      );
      const repair = lastUser(server.requests[1]);
      assertMatch(repair, /Failure: precondition_violated \(line 1\)/);
      assertMatch(repair, /place\("blue_bowl"\) threw not_holding/);
    },
  );

  await t.step(
    "writes undefined helpers hierarchically, bounded by depth",
    async () => {
      const script = (request: FakeRequest): FakeReply => {
        const helper = lastUser(request).split("\n").findLast((l) =>
          l.startsWith(HELPER_MARKER)
        );
        if (helper === `${HELPER_MARKER}moveInto`) {
          return js(
            "function moveInto(id, target) {\n  grab(id);\n  place(target);\n}",
          );
        }
        if (helper === `${HELPER_MARKER}grab`) {
          return js("function grab(id) {\n  pick(id);\n}");
        }
        return js('moveInto(detect("red block")[0].id, "blue_bowl");');
      };
      {
        await using server = startFakeOpenAiServer(script);
        const result = await synthesize(INSTRUCTION, {
          scene,
          checks,
          client: clientFor(server.baseURL),
          dryRunner,
        });
        assert(result.ok, result.error);
        assertEquals(result.attempts.length, 1);
        assertEquals(
          result.attempts[0]?.helpers.map((h) => [h.name, h.depth]),
          [["moveInto", 1], ["grab", 2]],
        );
        assertMatch(
          result.source ?? "",
          /function moveInto[\s\S]*function grab/,
        );
        assertEquals(server.requests.length, 3);
        assertMatch(
          lastUser(server.requests[1]),
          /calls the helper function moveInto/,
        );
        assertMatch(
          lastUser(server.requests[2]),
          /function moveInto\(id, target\)/,
        );
      }
      {
        await using server = startFakeOpenAiServer(script);
        const result = await synthesize(INSTRUCTION, {
          scene,
          checks,
          client: clientFor(server.baseURL),
          dryRunner,
          maxHelperDepth: 1,
          maxAttempts: 1,
        });
        assertEquals(result.ok, false);
        const issues = result.attempts[0]?.verifier?.issues ?? [];
        assert(
          issues.some((i) =>
            i.code === "unknown_function" && i.message.includes('"grab"')
          ),
        );
      }
    },
  );

  await t.step(
    "gives up after maxAttempts with the full attempt log",
    async () => {
      await using server = startFakeOpenAiServer([js("const x = globalThis;")]);
      const result = await synthesize(INSTRUCTION, {
        scene,
        checks,
        client: clientFor(server.baseURL),
        dryRunner,
      });
      assertEquals(result.ok, false);
      assertEquals(result.attempts.length, 4);
      assertEquals(server.requests.length, 4);
      assertEquals(result.source, "const x = globalThis;");
      assert(
        result.attempts.every((a) =>
          a.verifier?.ok === false && a.answer.includes("globalThis")
        ),
      );
      assertMatch(
        result.error ?? "",
        /^Cannot synthesize a program for "put the red block in the blue bowl" with model "fake-model": none of 4 attempt\(s\) passed; the last was refused by the verifier .*forbidden_identifier/,
      );
      // Every repair conversation grows by the answer and the feedback.
      assertEquals(
        server.requests.map((r) => r.messages.length),
        [2, 4, 6, 8],
      );
    },
  );

  await t.step("honours maxAttempts and rejects bad bounds", async () => {
    await using server = startFakeOpenAiServer([js('place("nowhere_bowl");')]);
    const result = await synthesize(INSTRUCTION, {
      scene,
      checks,
      client: clientFor(server.baseURL),
      dryRunner,
      maxAttempts: 2,
    });
    assertEquals(result.ok, false);
    assertEquals(result.attempts.length, 2);
    assertMatch(
      result.error ?? "",
      /failed its dry-run: (invalid_argument|precondition_violated)/,
    );
    const bad = await synthesize(INSTRUCTION, {
      scene,
      client: clientFor(server.baseURL),
      maxAttempts: 0,
    }).then(() => undefined, (e: unknown) => e);
    assert(bad instanceof RangeError);
  });
});

Deno.test("synthesize() reports malformed answers as clear errors", async (t) => {
  await t.step("no code block", async () => {
    await using server = startFakeOpenAiServer([{
      content: "I would pick the red block.",
    }]);
    const error = await rejection(
      synthesize(INSTRUCTION, { scene, client: clientFor(server.baseURL) }),
    );
    assertEquals(error.code, "malformed_answer");
    assertMatch(
      error.message,
      /attempt 1: .*no ```js code block, got "I would pick the red block\."/,
    );
    assertEquals(error.attempts.length, 1);
  });
  await t.step("empty answer", async () => {
    await using server = startFakeOpenAiServer([{ content: "" }]);
    const error = await rejection(
      synthesize(INSTRUCTION, { scene, client: clientFor(server.baseURL) }),
    );
    assertEquals(error.code, "malformed_answer");
    assertMatch(error.message, /the answer is empty/);
  });
  await t.step("HTTP 500", async () => {
    await using server = startFakeOpenAiServer([{
      status: 500,
      message: "model crashed",
    }]);
    const error = await rejection(
      synthesize(INSTRUCTION, {
        scene,
        client: clientFor(server.baseURL, { maxRetries: 1 }),
      }),
    );
    assertEquals(error.code, "model_error");
    assertMatch(error.message, /HTTP 500 after 2 attempt\(s\)/);
    assertEquals(server.requests.length, 2);
  });
  await t.step("timeout", async () => {
    await using server = startFakeOpenAiServer([{ hang: true }]);
    const error = await rejection(
      synthesize(INSTRUCTION, {
        scene,
        client: clientFor(server.baseURL, { timeoutMs: 100 }),
      }),
    );
    assertEquals(error.code, "timeout");
    assertMatch(error.message, /no answer within 100 ms/);
  });
  await t.step(
    "a failure after a repair keeps the earlier attempts",
    async () => {
      await using server = startFakeOpenAiServer([js("const x = globalThis;"), {
        status: 400,
      }]);
      const error = await rejection(
        synthesize(INSTRUCTION, { scene, client: clientFor(server.baseURL) }),
      );
      assertEquals(error.code, "model_error");
      assertEquals(error.attempts.length, 1);
    },
  );
});
