import {
  deepStrictEqual as assertEquals,
  match as assertMatch,
  ok as assert,
} from "node:assert/strict";
import { startFakeOpenAiServer } from "../test/_fake_openai_server.ts";
import { createOpenAiClient } from "./create_openai_client.ts";
import { SynthesisError } from "./synthesis_error.ts";

async function rejection(promise: Promise<unknown>): Promise<SynthesisError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert(
    error instanceof SynthesisError,
    `expected a SynthesisError, got ${error}`,
  );
  return error;
}

const noEnv = () => undefined;

Deno.test("createOpenAiClient() returns the assistant's text from a real HTTP server", async () => {
  await using server = startFakeOpenAiServer([{ content: "hello" }]);
  const client = createOpenAiClient({
    baseURL: server.baseURL,
    model: "m1",
    env: noEnv,
  });
  const text = await client.complete([{ role: "user", content: "hi" }]);
  assertEquals(text, "hello");
  assertEquals(server.requests[0]?.model, "m1");
  assertEquals(server.requests[0]?.messages, [{ role: "user", content: "hi" }]);
});

Deno.test("createOpenAiClient() retries 429 and 5xx, then succeeds", async () => {
  await using server = startFakeOpenAiServer([
    { status: 429 },
    { status: 503 },
    { content: "ok" },
  ]);
  const client = createOpenAiClient({
    baseURL: server.baseURL,
    model: "m",
    maxRetries: 2,
    env: noEnv,
  });
  assertEquals(await client.complete([{ role: "user", content: "x" }]), "ok");
  assertEquals(server.requests.length, 3);
});

Deno.test("createOpenAiClient() turns a persistent HTTP 500 into a model_error", async () => {
  await using server = startFakeOpenAiServer([{
    status: 500,
    message: "boom",
  }]);
  const client = createOpenAiClient({
    baseURL: server.baseURL,
    model: "m",
    maxRetries: 1,
    env: noEnv,
  });
  const error = await rejection(
    client.complete([{ role: "user", content: "x" }]),
  );
  assertEquals(error.code, "model_error");
  assertMatch(error.message, /HTTP 500 after 2 attempt\(s\)/);
  assertEquals(server.requests.length, 2);
});

Deno.test("createOpenAiClient() reports a timeout clearly", async () => {
  await using server = startFakeOpenAiServer([{ hang: true }]);
  const client = createOpenAiClient({
    baseURL: server.baseURL,
    model: "m",
    timeoutMs: 100,
    maxRetries: 0,
    env: noEnv,
  });
  const error = await rejection(
    client.complete([{ role: "user", content: "x" }]),
  );
  assertEquals(error.code, "timeout");
  assertMatch(error.message, /no answer within 100 ms/);
});

Deno.test("createOpenAiClient() says when no model is reachable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close(); // nothing listens there now
  const client = createOpenAiClient({
    baseURL: `http://127.0.0.1:${port}/v1`,
    model: "m",
    maxRetries: 0,
    env: noEnv,
  });
  const error = await rejection(
    client.complete([{ role: "user", content: "x" }]),
  );
  assertEquals(error.code, "model_unreachable");
  assertMatch(error.message, /Cannot reach model "m" at http:\/\/127\.0\.0\.1/);
});

Deno.test("createOpenAiClient() refuses to start without a model", () => {
  let error: unknown;
  try {
    createOpenAiClient({ env: noEnv });
  } catch (e) {
    error = e;
  }
  assertEquals((error as SynthesisError).code, "no_model");
  try {
    createOpenAiClient({ baseURL: "http://127.0.0.1:1/v1", env: noEnv });
  } catch (e) {
    error = e;
  }
  assertMatch((error as SynthesisError).message, /no model name/);
});

Deno.test("createOpenAiClient() rejects with aborted when the signal aborts", async () => {
  await using server = startFakeOpenAiServer([{ hang: true }]);
  const client = createOpenAiClient({
    baseURL: server.baseURL,
    model: "m",
    env: noEnv,
  });
  const controller = new AbortController();
  const pending = client.complete([{ role: "user", content: "x" }], {
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(), 20);
  const error = await rejection(pending);
  assertEquals(error.code, "aborted");
});
