import {
  deepStrictEqual as assertEquals,
  match as assertMatch,
  ok as assert,
} from "node:assert/strict";
import { createOpenAiClient } from "./create_openai_client.ts";
import { buildHelperPrompt } from "./build_helper_prompt.ts";
import { buildTaskMessage } from "./build_prompt.ts";
import { parseScene } from "../skills-bridge/mod.ts";
import {
  loadReplayAnswers,
  replayKey,
  startReplayServer,
} from "./replay_server.ts";
import { SynthesisError } from "./synthesis_error.ts";

const scene = parseScene({ objects: [] });
const answers = {
  [replayKey("Put the red block in the bowl.")]: ["first", "second"],
  [replayKey("helper:grab")]: ["function grab() {}"],
};

Deno.test("replayKey() normalizes case, spaces and the final period", () => {
  assertEquals(
    replayKey("  Put the  red block\nin the bowl. "),
    "put the red block in the bowl",
  );
});

Deno.test("the replay server serves recorded answers turn by turn over the OpenAI API", async () => {
  await using server = await startReplayServer({ answers });
  const client = createOpenAiClient({
    baseURL: server.baseURL,
    model: server.model,
    maxRetries: 0,
    env: () => undefined,
  });
  const task = {
    role: "user" as const,
    content: buildTaskMessage("put the red block in the bowl", { scene }),
  };
  assertEquals(await client.complete([task]), "first");
  const repair = [task, { role: "assistant" as const, content: "x" }, {
    role: "user" as const,
    content: "fix",
  }];
  assertEquals(await client.complete(repair), "second");
  assertEquals(
    await client.complete([...repair, ...repair.slice(1)]),
    "second",
  );
  const helper = buildHelperPrompt("grab", { program: "grab();" });
  assertEquals(await client.complete(helper), "function grab() {}");
  const models = await (await fetch(`${server.baseURL}/models`)).json();
  assertEquals(models.data[0].id, "replay");
});

Deno.test("the replay server says plainly when it has no recording", async () => {
  await using server = await startReplayServer({ answers });
  const client = createOpenAiClient({
    baseURL: server.baseURL,
    model: server.model,
    env: () => undefined,
  });
  const error = await client.complete([{
    role: "user",
    content: buildTaskMessage("juggle the bowls", { scene }),
  }]).then(() => undefined, (e: unknown) => e);
  assert(error instanceof SynthesisError);
  assertEquals(error.code, "model_error");
  assertMatch(
    error.message,
    /HTTP 404: .*No recorded answer for "juggle the bowls": this is the cap-edge replay server, not a model/,
  );
});

Deno.test("loadReplayAnswers() reads the shipped recordings and refuses bad files", async () => {
  const shipped = await loadReplayAnswers();
  assert(Object.keys(shipped).length >= 12);
  const dir = await Deno.makeTempDir();
  try {
    const bad = `${dir}/bad.json`;
    await Deno.writeTextFile(bad, JSON.stringify({ answers: { a: [] } }));
    const error = await loadReplayAnswers(bad).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert(error instanceof TypeError);
    assertMatch(
      error.message,
      /answers\["a"\] must be a non-empty array of strings/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
